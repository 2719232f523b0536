"""The DHCP source: a lease with the root path (option 17) and initiator name (option 203).

Importing this package costs nothing beyond ``ibftkit.model``: the client and scapy load only
when ``acquire_lease``/``acquire_first`` is called, so the iBFT path never pays for them, and the
DHCPv6 modules (``lease6``, ``client6``, scapy's IPv6 layers) only when DHCPv6 runs.

- ``acquire_lease(interface, *, timeout=30.0, first_timeout=1.0, progress=None, mac=None)``
- ``acquire_first(interfaces, *, timeout, first_timeout=1.0, progress=None)``
- ``Lease`` (``to_json_dict()``, ``to_boot_config()``)
- ``acquire_lease6(interface, *, timeout=30.0, progress=None, mac=None)`` (DHCPv6, RFC 8415) -> ``Lease6``
- ``wait_slaac(interface, *, timeout=10.0, progress=None)`` (router advertisements, RFC 4862) -> ``Slaac``

See ``docs/dhcp.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .lease import Lease, decode_options, lease_from_reply
from .options import MessageType, Option

if TYPE_CHECKING:
    from .lease6 import Lease6
    from .slaac import Slaac

__all__ = ["Lease", "Lease6", "MessageType", "Option", "acquire_first", "acquire_lease", "acquire_lease6",
           "decode_options", "lease_from_reply", "preload", "wait_slaac"]


def __getattr__(name: str) -> Any:
    """``Lease6`` on first use: the DHCPv6 lease module (enums, dataclasses) is not loaded by the
    DHCPv4 path."""
    if name == "Lease6":
        from .lease6 import Lease6

        return Lease6
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def preload(families: Sequence[int] = (4,)) -> None:
    """Import the client and scapy now (seconds on a slow machine), e.g. while links negotiate
    carrier, so that the first DISCOVER (or Solicit, family 6 alone) goes out as soon as there is
    carrier. With both families only DHCPv4's layers load: DHCPv6 starts later, if at all, and
    imports its own (``ibftkit.sources.dhcp.dual``)."""
    if 4 in families:
        from .client import load_scapy

        load_scapy()
    elif 6 in families:
        from .client6 import load_scapy6

        load_scapy6()


def acquire_lease(interface: str, *, timeout: float = 30.0, first_timeout: float = 1.0,
                  progress: Callable[[str], None] | None = None, mac: str | None = None, **kw: Any) -> Lease:
    """DHCP on one interface until a DHCPACK; see ``ibftkit.sources.dhcp.client.acquire_lease``."""
    from .client import acquire_lease as run

    return run(interface, timeout=timeout, first_timeout=first_timeout, progress=progress, mac=mac, **kw)


def acquire_first(interfaces: Sequence[str], *, timeout: float, first_timeout: float = 1.0,
                  progress: Callable[[str], None] | None = None, **kw: Any) -> Lease:
    """The first usable lease over several NICs; see ``ibftkit.sources.dhcp.client.acquire_first``."""
    from .client import acquire_first as run

    return run(interfaces, timeout=timeout, first_timeout=first_timeout, progress=progress, **kw)


def acquire_lease6(interface: str, *, timeout: float = 30.0, progress: Callable[[str], None] | None = None,
                   mac: str | None = None, **kw: Any) -> Lease6:
    """DHCPv6 on one interface until a Reply; see ``ibftkit.sources.dhcp.client6.acquire_lease6``."""
    from .client6 import acquire_lease6 as run

    return run(interface, timeout=timeout, progress=progress, mac=mac, **kw)


def wait_slaac(interface: str, *, timeout: float = 10.0, progress: Callable[[str], None] | None = None,
               **kw: Any) -> Slaac:
    """Wait for a global address and a default route from router advertisements; see
    ``ibftkit.sources.dhcp.slaac.wait_slaac``."""
    from .slaac import wait_slaac as run

    return run(interface, timeout=timeout, progress=progress, **kw)
