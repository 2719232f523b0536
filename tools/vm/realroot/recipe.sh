#!/bin/sh
# The real root's recipe: mmdebstrap's --customize-hook (runs on the host, $1 = the new root).
# usage: recipe.sh ROOT STACK     STACK: ifupdown | networkd
#
# What a Debian installer leaves on an iSCSI-rooted machine. Changing this file changes the cache
# key (tools/vm/vmharness/realroot.py), so the root is rebuilt. The test's own services
# (tools/vm/realroot/guest/) go in with the image, not here.
set -eu
root=$1
stack=$2

# The root's own host name would override the one the firmware gave (systemd keeps the kernel's
# host name when /etc/hostname is missing: hostname-setup.c).
rm -f "$root/etc/hostname"
cat > "$root/etc/fstab" <<'EOF'
LABEL=rr-root / ext4 errors=remount-ro 0 1
EOF
echo "root:rr" | chroot "$root" chpasswd

# dm-multipath over the two iSCSI sessions (the same LUN through two portals). no_path_retry
# queue: with every path gone the root's I/O waits instead of failing (multipath.conf(5)).
cat > "$root/etc/multipath.conf" <<'EOF'
defaults {
	user_friendly_names yes
	find_multipaths off
	polling_interval 5
	no_path_retry queue
}
EOF

case $stack in
ifupdown)
	# What debian-installer writes for a DHCP NIC: ifupdown would reconfigure (and at shutdown
	# deconfigure) the boot NICs unless the hand-off keeps it off them.
	cat > "$root/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

allow-hotplug ens3
iface ens3 inet dhcp

allow-hotplug ens4
iface ens4 inet dhcp
EOF
	;;
networkd)
	mkdir -p "$root/etc/systemd/network"
	cat > "$root/etc/systemd/network/80-wired.network" <<'EOF'
[Match]
Name=en*

[Network]
DHCP=ipv4
EOF
	chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service
	ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
	;;
*)
	echo "recipe.sh: unknown stack $stack" >&2
	exit 2
	;;
esac

