"""Renderers: one ``BootConfig`` in, text out. A registry, not an if/elif chain.

``render(cfg, fmt)`` for fmt in ``FORMATS``. CHAP secrets are redacted in every format unless
``show_secrets`` is true. Renderers are pure; what they need from the live system (which local
interface has a MAC) is passed in as ``mac_to_ifname``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping

from ..model import BootConfig

# format -> (module, function); modules are imported on first use.
_REGISTRY: dict[str, tuple[str, str]] = {
    "text": ("text", "render_text"),
    "json": ("text", "render_json"),
    "sysfs": ("kernel", "render_sysfs"),
    "iscsistart": ("kernel", "render_iscsistart"),
    "kickstart": ("installer", "render_kickstart"),
    "dracut": ("installer", "render_dracut"),
}
FORMATS = tuple(_REGISTRY)
DECODE_FORMATS = ("text", "json", "sysfs", "iscsistart")


def renderer(fmt: str) -> Callable[..., str]:
    try:
        module, func = _REGISTRY[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})") from None
    return getattr(importlib.import_module(f"{__package__}.{module}"), func)  # type: ignore[no-any-return]


def render(cfg: BootConfig, fmt: str, *, show_secrets: bool = False,
           mac_to_ifname: Mapping[str, str] | None = None, netless_pci: Collection[str] = ()) -> str:
    """The text of ``cfg`` in format ``fmt``, ending in a newline unless empty. ``netless_pci``
    (PCI addresses of this machine's devices without a network interface) only changes the
    ``iscsistart`` render, as it changes what ``iscsistart -f`` prints here."""
    kw = {"netless_pci": netless_pci} if fmt == "iscsistart" else {}
    return renderer(fmt)(cfg, show_secrets=show_secrets, mac_to_ifname=mac_to_ifname or {}, **kw)
