"""ibftkit's VM harness: real firmware, a real Debian kernel, real open-iscsi, under QEMU (TCG).

Modules:

- ``assets``     Debian packages fetched into a cache (kernel, modules, busybox, iscsistart, Python)
- ``initramfs``  a ``newc`` cpio writer and the guest image builder
- ``qemu``       QEMU command lines (direct kernel, BIOS iPXE, OVMF + iPXE) and a supervised run
- ``serial``     the guest's marker protocol on the serial console, parsed on the host
- ``tgt``        a private ``tgtd`` with marker LUNs
- ``kernelview`` ``tools/vm/kernel-view``: the kernel's view of any table
- ``capture``    ``tools/vm/capture``: tables written by real iPXE firmware

See ``docs/vm-harness.md`` and ``/work/shared/reference/vm-boot.md`` (the recipe this follows).
"""
