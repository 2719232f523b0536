#!/bin/sh
# /sbin/ibftkit-root: dracut initqueue job queued by parse-ibftkit.sh (once udev has settled): runs
# ibftkit-init, then tells dracut what is ready. The iSCSI disk then appears like a local one and
# dracut's rootfs-block mounts root= (root=/dev/sdX, root=UUID=..., root=/dev/disk/by-path/...).
#
# ibftkit-init --handoff leaves in /run what the installed system needs (node records, network
# settings: docs/after-boot.md); dracut moves /run into the root.
# Success: /tmp/ibftkit.done (this module's initqueue "finished" condition), /tmp/net.IF.did-setup
# and /tmp/net.IF.up for the interface that reaches the target (what dracut's network modules write
# once an interface is configured: net-lib.sh all_ifaces_setup, all_ifaces_up), and Debian's
# /run/initramfs/open-iscsi.interface. Failure: dracut's emergency shell (emergency_shell,
# dracut-lib.sh) with one line: ibftkit-init's exit status, its meaning and ibftkit-init's own
# reason; the same line comes again from an emergency hook (for dracut-emergency.service). With
# rd.shell=0 dracut does rd.emergency= (default halt) instead of opening the shell.

type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh
. /usr/lib/ibftkit/ibftkit-functions

IBFTKIT_ARGS=
[ -r /etc/ibftkit/dracut.conf ] && . /etc/ibftkit/dracut.conf

read -r why < /tmp/ibftkit.wanted 2> /dev/null || why=ibftkit
echo "ibftkit: logging in to the iSCSI boot disk with ibftkit-init (${why})" >&2
modprobe -q iscsi_tcp
modprobe -q iscsi_ibft || true
mkdir -p /etc/iscsi /run/lock/iscsi /var/lib/iscsi

quiet_arg=
getarg quiet > /dev/null && quiet_arg=--quiet
# shellcheck disable=SC2086
if ibftkit_run ${quiet_arg} --handoff ${IBFTKIT_ARGS}; then
	if netif=$(ibftkit_boot_interface); then
		: > "/tmp/net.${netif}.did-setup"
		: > "/tmp/net.${netif}.up"
	fi
	ibftkit_record_interface
	: > /tmp/ibftkit.done
	exit 0
fi

msg=$(ibftkit_failure "$IBFTKIT_STATUS" "$IBFTKIT_REASON")
echo "$msg" > /run/ibftkit/failure
# shellcheck disable=SC2016
echo '[ -r /run/ibftkit/failure ] && warn "$(cat /run/ibftkit/failure)"' > "$hookdir/emergency/50-ibftkit.sh"
emergency_shell "$msg"
exit 1
