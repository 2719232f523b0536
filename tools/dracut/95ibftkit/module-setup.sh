#!/bin/bash
# dracut module "ibftkit": ibftkit-init logs in to the iSCSI boot disk (docs/initramfs.md "dracut").
#
# Installed by tools/dracut/install as $dracutbasedir/modules.d/95ibftkit/ together with stage.py
# and ibftkit-functions from tools/initrd-common/ (the staging and the boot functions shared with
# the initramfs-tools hook and the mkinitcpio hook). dracut sources this file and calls check,
# depends, installkernel and install (dracut's modules.d/README, "module-setup.sh").
#
# Build-time settings (shell variables, e.g. in /etc/dracut.conf.d/ibftkit.conf, which dracut
# sources before it calls these functions): IBFTKIT_PYTHON, IBFTKIT_PYTHONPATH, IBFTKIT_DHCP,
# IBFTKIT_MODULES, IBFTKIT_ARGS; tools/dracut/ibftkit.conf lists them with their defaults.

# Only when asked for (add_dracutmodules+=" ibftkit ", or dracut --add ibftkit): 255.
check() {
    require_binaries iscsistart || return 1
    return 255
}

# rootfs-block mounts root= once the disk is there; kernel-network-modules brings the NIC drivers.
# Not dracut's network module: ibftkit-init configures the network itself.
depends() {
    echo rootfs-block kernel-network-modules
    return 0
}

# iscsi_tcp brings libiscsi_tcp, libiscsi and scsi_transport_iscsi; libiscsi_tcp asks the crypto API
# for crc32c, which modprobe cannot see as a dependency. sd_mod: the disk. iscsi_ibft: the kernel's
# view of the table (/sys/firmware/ibft); ibftkit-init can read the table without it.
installkernel() {
    # shellcheck disable=SC2086
    hostonly='' instmods iscsi_tcp crc32c_generic crc32c sd_mod iscsi_boot_sysfs iscsi_ibft ${IBFTKIT_MODULES-}
}

ibftkit_fail() {
    dfatal "ibftkit: $*"
    exit 1
}

install() {
    local python=${IBFTKIT_PYTHON:-/usr/bin/python3}
    local manifest dir op src dst
    local -a args=()

    [[ -x $python ]] || ibftkit_fail "IBFTKIT_PYTHON=$python: no such program (set it in /etc/dracut.conf.d/ibftkit.conf)"
    [[ -r $moddir/stage.py && -r $moddir/ibftkit-functions ]] \
        || ibftkit_fail "$moddir: stage.py or ibftkit-functions missing (run tools/dracut/install)"

    inst_multiple iscsistart ip sed cat mkdir modprobe
    inst_hook cmdline 89 "$moddir/parse-ibftkit.sh"
    inst_script "$moddir/ibftkit-root.sh" /sbin/ibftkit-root

    # The fallback initiator name (ibftkit-init reads it when neither the table nor the command line
    # has one), where ibftkit-init and iscsistart look for it.
    [[ -r /etc/iscsi/initiatorname.iscsi ]] && inst_simple /etc/iscsi/initiatorname.iscsi

    [[ ${IBFTKIT_DHCP-} == yes ]] && args+=(--dhcp)
    local IFS=:
    for dir in ${IBFTKIT_PYTHONPATH-}; do
        [[ $dir ]] && args+=(--path "$dir")
    done
    unset IFS
    manifest="$DRACUT_TMPDIR/ibftkit-elf"
    "$python" -I "$moddir/stage.py" --destdir "$initdir" --manifest "$manifest" "${args[@]}" \
        || ibftkit_fail "staging Python and ibftkit with $python failed (the line above says why)"
    # The ELF files with their libraries (dracut-install -l); dracut strips them with the rest.
    while IFS=$'\t' read -r op src dst; do
        [[ $op == copy ]] || continue
        inst_library "$src" "$dst" || ibftkit_fail "installing $src as $dst failed"
    done < "$manifest"
    rm -f "$manifest"

    mkdir -p "$initdir/etc/ibftkit"
    printf 'IBFTKIT_ARGS=%q\n' "${IBFTKIT_ARGS-}" > "$initdir/etc/ibftkit/dracut.conf"
    dracut_need_initqueue
}
