#!/bin/sh
# dracut cmdline hook (priority 89, before dracut's own iscsi module at 90): decides whether
# ibftkit-init logs in, and if so queues /sbin/ibftkit-root (ibftkit-root.sh) to run once udev has
# settled (the NIC drivers are loaded) and tells the initqueue not to finish before it has run.
#
# Who logs in (docs/initramfs.md "Next to dracut's own iscsi module"): without dracut's iscsi
# module in the image, ibftkit-init acts on ibftkit's words and on dracut's (rd.iscsi.firmware,
# rd.iscsi.ibft, ip=ibft, netroot=iscsi..., netroot=dhcp). With it (/sbin/iscsiroot), dracut's words
# are its own: ibftkit-init acts only on ibftkit's words (ibftkit, ibftkit.KEY=...) and only when
# none of the words dracut's module or its network setup act on is there too, so exactly one of
# them logs in.

type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh
. /usr/lib/ibftkit/ibftkit-functions

ibftkit_cmdline=$(getcmdline)
if [ -x /sbin/iscsiroot ]; then
	if ibftkit_why=$(ibftkit_wanted "$ibftkit_cmdline" own); then
		if ibftkit_other=$(ibftkit_dracut_word "$ibftkit_cmdline"); then
			echo "ibftkit: ${ibftkit_other} is on the command line: dracut's iscsi module logs in, not ibftkit-init (${ibftkit_why} ignored)" >&2
			ibftkit_why=
		fi
	elif ibftkit_other=$(ibftkit_wanted "$ibftkit_cmdline"); then
		echo "ibftkit: ${ibftkit_other} is left to dracut's iscsi module (add ibftkit, without dracut's words, for ibftkit-init)" >&2
	fi
else
	ibftkit_why=$(ibftkit_wanted "$ibftkit_cmdline") || ibftkit_why=
fi

if [ -n "$ibftkit_why" ]; then
	echo "$ibftkit_why" > /tmp/ibftkit.wanted
	initqueue --onetime --settled --unique --name ibftkit /sbin/ibftkit-root
	echo "${DRACUT_SYSTEMD:+systemctl is-active initrd-root-device.target || }[ -e /tmp/ibftkit.done ]" \
		> "$hookdir/initqueue/finished/ibftkit.sh"
fi
unset ibftkit_cmdline ibftkit_why ibftkit_other
