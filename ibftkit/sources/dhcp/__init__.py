"""The DHCP source: a lease with the root path (option 17) and initiator name (option 203).

Importing this package costs nothing beyond ``ibftkit.model``: the client and scapy load only
when ``acquire_lease``/``acquire_first`` is called, so the iBFT path never pays for them.

- ``acquire_lease(interface, *, timeout=30.0, first_timeout=1.0, progress=None, mac=None)``
- ``acquire_first(interfaces, *, timeout, first_timeout=1.0, progress=None)``
- ``Lease`` (``to_json_dict()``, ``to_boot_config()``)

See ``docs/dhcp.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .lease import Lease, decode_options, lease_from_reply
from .options import MessageType, Option

__all__ = ["Lease", "MessageType", "Option", "acquire_first", "acquire_lease", "decode_options",
           "lease_from_reply", "preload"]


def preload() -> None:
    """Import the client and scapy now (seconds on a slow machine), e.g. while links negotiate
    carrier, so that the first DISCOVER goes out as soon as there is carrier."""
    from .client import load_scapy

    load_scapy()


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
