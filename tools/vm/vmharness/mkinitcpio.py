"""A mkinitcpio-style image for ``tools/mkinitcpio``: its install hook run through mkinitcpio's build
interface, its run hook run by an init that does what mkinitcpio's init does.

mkinitcpio is Arch's and is not packaged for Debian, so its two halves are stood in for here:

- **build**: ``install/ibftkit``'s ``build()`` runs under bash with the functions mkinitcpio gives
  install hooks (mkinitcpio(8) "ABOUT INSTALL HOOKS"; ``functions`` in mkinitcpio's source):
  ``add_module`` (the name is recorded; the ``.ko`` files come from the VM cache's kernel with
  their dependencies), ``add_binary`` (the file, and the libraries ``ldd`` names), ``add_file``,
  ``add_dir``, ``add_runscript`` (``hooks/<name>`` to ``/hooks/<name>``), ``msg``/``warning``/
  ``error``, and ``$BUILDROOT``;
- **boot**: ``tools/vm/guest/init-mkinitcpio`` on the busybox guest (``initramfs.guest_image``):
  parses the command line into variables, sources each ``/hooks/$hook`` of ``HOOKS`` and calls its
  ``run_hook``, then mounts ``root=`` and ``switch_root``s, as mkinitcpio's ``init`` does.

What is *not* run: mkinitcpio itself (its ``add_*`` implementations, autodetect, its udev hook, its
compression) and Arch's userland.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .assets import Assets
from .initramfs import GUEST_DIR, IBFT_MODULES, LOGIN_MODULES, NIC_MODULES, guest_image

REPO = Path(__file__).resolve().parents[3]
HOOKS_DIR = REPO / "tools" / "mkinitcpio"
# ext4 for the root file system (its dependencies come with it).
ROOT_MODULES = ("ext4",)

SHIM = r'''
set -eu
msg() { echo "==> $*" >&2; }
warning() { echo "==> WARNING: $*" >&2; }
error() { echo "==> ERROR: $*" >&2; }
add_dir() { mkdir -p "$BUILDROOT/${1#/}"; }
add_module() { echo "${1%\?}" >> "$MODLIST"; }
_copy() {  # SRC DST: the file at DST in the image, unless there already
    [ -e "$BUILDROOT/${2#/}" ] && return 0
    mkdir -p "$(dirname "$BUILDROOT/${2#/}")"
    cp -L "$1" "$BUILDROOT/${2#/}"
}
add_file() { _copy "$1" "${2:-$1}"; [ -z "${3-}" ] || chmod "$3" "$BUILDROOT/${2:-$1}"; }
add_binary() {
    local src=$1 dst=${2:-$1} lib
    case "$src" in /*) ;; *) src=$(command -v "$src") || { error "binary '$1' not found"; return 1; } ;; esac
    [ "$dst" = "$1" ] && dst=$src
    _copy "$src" "$dst"
    for lib in $(ldd "$src" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
        _copy "$lib" "$lib"
    done
}
add_runscript() { _copy "$HOOKS_DIR/hooks/$HOOK" "/hooks/$HOOK"; chmod 755 "$BUILDROOT/hooks/$HOOK"; }
. "$HOOKS_DIR/install/$HOOK"
build
'''


class BuildError(RuntimeError):
    """The install hook's build() failed; the message has its output."""


def build(assets: Assets, work: Path, *, env: dict[str, str], hook: str = "ibftkit") -> Path:
    """Run ``install/<hook>``'s ``build()`` into ``work/buildroot`` and make the guest image
    (``work/initrd.gz``). ``env``: the environment of the build (``PATH``, ``IBFTKIT_CONF``, ...)."""
    root = work / "buildroot"
    root.mkdir(parents=True)
    modlist = work / "modules"
    modlist.write_text("")
    done = subprocess.run(["bash", "-c", SHIM], text=True, capture_output=True, timeout=600,
                          env={**env, "BUILDROOT": str(root), "MODLIST": str(modlist), "HOOK": hook,
                               "HOOKS_DIR": str(HOOKS_DIR)})
    if done.returncode != 0:
        raise BuildError(f"install/{hook} build() exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    (root / "config").write_text(f'HOOKS="base udev {hook} filesystems"\n')
    modules = tuple(m for m in modlist.read_text().split() if m)
    img = guest_image(assets, modules=(*IBFT_MODULES, *NIC_MODULES, *LOGIN_MODULES, *ROOT_MODULES, *modules),
                      init=GUEST_DIR / "init-mkinitcpio")
    img.add_tree(root)
    out = work / "initrd.gz"
    img.write_gz(out)
    return out
