"""ibftkit's VM harness: real firmware, a real Debian kernel, real open-iscsi, under QEMU (TCG).

Modules:

- ``assets``     Debian packages fetched into a cache (kernel, modules, busybox, iscsistart, Python)
- ``initramfs``  a ``newc`` cpio writer and the guest image builder
- ``qemu``       QEMU command lines (direct kernel, BIOS iPXE, OVMF + iPXE) and a supervised run
- ``serial``     the guest's marker protocol on the serial console, parsed on the host
- ``tgt``        a private ``tgtd`` with marker LUNs
- ``kernelview`` ``tools/vm/kernel-view``: the kernel's view of any table
- ``capture``    ``tools/vm/capture``: tables written by real iPXE firmware; the cases, ``boot_case``
- ``pyguest``    the ibftkit-init image (Python, ibftkit, construct, pyroute2) and the e2e runner
- ``dhcpnet``    the DHCP path: a tap, dnsmasq (options 17/203) and tgtd in a namespace, direct boot
- ``vlanswitch`` a userspace 802.1Q switch between QEMU's ``-netdev dgram`` and a tap (the VLAN case)
- ``cmdlinenet`` boots from the kernel command line alone (no iBFT): a VLAN through the switch, a bond on a hub
- ``netns``      the private network namespace every VM that talks to a target runs in
- ``procs``      stopping the daemons the harness starts (SIGTERM, grace, SIGKILL to the group)

See ``docs/vm-harness.md`` (what each part does, the recipe it follows, and the measured times).
"""
