"""A synchronous rtnetlink client (RFC 3549) on a standard-library ``AF_NETLINK`` socket, with
pyroute2's own message classes for every byte that goes to the kernel and comes back.

Why: pyroute2 0.9's ``IPRoute`` runs on asyncio (``pyroute2/netlink/core.py``,
``pyroute2/netlink/nlsocket.py``); importing it costs asyncio, ``concurrent.futures``, ``ssl`` and
``unittest.mock`` besides the message classes, about 1 s of a boot in a TCG guest
(docs/vm-e2e.md). :class:`Rtnl` imports only ``pyroute2.netlink.rtnl.{ifaddrmsg,rtmsg}`` and
``pyroute2.netlink.marshal``, and ``pyroute2.netlink.rtnl.ifinfmsg`` (with ``pyroute2.config``) when
the first link message is built or arrives (:func:`link_class`): in its own namespace it finds a
link's index and flags without one (:meth:`Rtnl.link_lookup`, :meth:`Rtnl.link_flags`), so a plan
that adds addresses and routes to links that are up sends none. The messages it does send: the
requests are pyroute2 ``nlmsg`` objects encoded by their own ``encode()``, the answers are parsed by
pyroute2's ``Marshal`` (so an error is pyroute2's ``NetlinkError`` with the kernel's errno in
``code`` and its extended-ack text, exactly as from ``IPRoute(ext_ack=True)``), and the messages
returned are the ones ``IPRoute`` returns.

It answers the calls of the ``Netlink`` protocol (``ibftkit.network.apply``) that the boot path
makes, with ``IPRoute``'s keyword meanings (``pyroute2/iproute/linux.py``, ``pyroute2/requests/``),
and builds byte for byte the request ``IPRoute`` builds for them (``tests/unit/test_netlink.py``
holds requests recorded from ``IPRoute``):

- ``link``: ``get``/``del`` by ``index`` or ``ifname``; ``set`` of ``state``, ``mtu``, ``address``
  (MAC), ``ifname``, ``master``; ``dump``; ``link_lookup(ifname=…)``; ``get_links()``; and
  ``link_flags(ifname, index)``, ``ifi_flags`` alone (not an ``IPRoute`` call);
- ``addr``: ``add``/``del``/``replace`` of ``index``, ``address``, ``prefixlen``, ``flags``
  (``IFA_FLAGS``); ``dump``/``get_addr`` filtered by ``index``, ``family``, ``scope``;
- ``route``: ``add``/``replace``/``del`` of ``dst``, ``oif``, ``gateway``, ``table``, ``scope``,
  ``prefsrc``, ``proto``, ``type``; ``dump``/``get_routes`` filtered by ``table``, ``oif``.

Any other call or keyword (``link("add", kind="vlan", …)``, bond options, …) goes to a real
``IPRoute`` in the same namespace, opened the first time one is needed, so those paths behave
exactly as before.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from ..infra.lazyimport import deferred, lean_package

lean_package("pyroute2")  # its __init__ imports every pyroute2 API (NDB, sqlite3, asyncio)

# logging and traceback (pyroute2/netlink/__init__.py: only when a message fails to decode) load on
# first use.
with deferred("logging", "traceback"):
    import pyroute2.netlink  # noqa: F401

from pyroute2.netlink import (  # noqa: E402
    NETLINK_EXT_ACK,
    NETLINK_ROUTE,
    NLM_F_ACK,
    NLM_F_APPEND,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    NLM_F_REQUEST,
    NLMSG_DONE,
    SOL_NETLINK,
)
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.marshal import Marshal  # noqa: E402
from pyroute2.netlink.rtnl import (  # noqa: E402
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_DELROUTE,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    rt_proto,
    rt_scope,
    rt_type,
)
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg  # noqa: E402
from pyroute2.netlink.rtnl.rtmsg import rtmsg  # noqa: E402

from .linkup import IFF_UP, local_flags  # noqa: E402

__all__ = ["NetlinkError", "Rtnl", "Unsupported", "encode_request", "iproute_class", "parse"]

#: Request flags by mode, as ``NetlinkRequest.flags`` (``pyroute2/netlink/nlsocket.py``).
REQ = NLM_F_REQUEST | NLM_F_ACK
FLAGS = {"dump": NLM_F_REQUEST | NLM_F_DUMP, "get": REQ, "req": REQ,
         "create": REQ | NLM_F_CREATE | NLM_F_EXCL, "append": REQ | NLM_F_CREATE | NLM_F_APPEND,
         "change": REQ | NLM_F_REPLACE, "replace": REQ | NLM_F_REPLACE | NLM_F_CREATE}
#: command -> (message type, mode), as the ``command_map`` of ``RTNL_API.link``/``addr``/``route``.
LINK_COMMANDS = {"set": (RTM_NEWLINK, "req"), "del": (RTM_DELLINK, "req"), "delete": (RTM_DELLINK, "req"),
                 "remove": (RTM_DELLINK, "req"), "get": (RTM_GETLINK, "get"), "dump": (RTM_GETLINK, "dump")}
ADDR_COMMANDS = {"add": (RTM_NEWADDR, "create"), "replace": (RTM_NEWADDR, "replace"), "del": (RTM_DELADDR, "req"),
                 "delete": (RTM_DELADDR, "req"), "remove": (RTM_DELADDR, "req"), "dump": (RTM_GETADDR, "dump")}
ROUTE_COMMANDS = {"add": (RTM_NEWROUTE, "create"), "set": (RTM_NEWROUTE, "replace"),
                  "replace": (RTM_NEWROUTE, "replace"), "change": (RTM_NEWROUTE, "change"),
                  "append": (RTM_NEWROUTE, "append"), "del": (RTM_DELROUTE, "req"),
                  "delete": (RTM_DELROUTE, "req"), "remove": (RTM_DELROUTE, "req"), "dump": (RTM_GETROUTE, "dump")}
#: The keywords this client encodes itself, per kind of request; anything else goes to ``IPRoute``.
LINK_KEYS = {"get": {"index", "ifname"}, "req": {"index", "ifname"}, "dump": set(),
             "set": {"index", "ifname", "state", "mtu", "address", "master"}}
ADDR_KEYS = {"index", "address", "prefixlen", "flags"}
ADDR_MATCH = {"index", "family", "scope"}
ROUTE_KEYS = {"dst", "oif", "gateway", "table", "scope", "prefsrc", "proto", "type"}
ROUTE_MATCH = {"table", "oif"}
RT_TABLE_MAIN = 254
RECV_SIZE = 1 << 16  # a dump datagram is at most 32 KiB (net/netlink/af_netlink.c, netlink_recvmsg)
SOCKET_BUFFER = 1 << 20  # SO_SNDBUF/SO_RCVBUF, as pyroute2's NetlinkSocket


class Unsupported(Exception):
    """A call this client does not encode itself (``Rtnl`` hands it to ``IPRoute``)."""


LINK_TYPES = (RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK)


def link_class() -> Any:
    """pyroute2's ``ifinfmsg`` (``pyroute2/netlink/rtnl/ifinfmsg/__init__.py``), imported the first
    time a link message is built or parsed: with its link-kind plugins and ``pyroute2.config``
    (``multiprocessing``, ``platform``) it is the costliest message module, and a plan that only
    adds addresses and routes sends no link message (``Rtnl.link_lookup``, ``Rtnl.link_flags``)."""
    with deferred("logging", "traceback", "pkgutil"):  # pkgutil: only when registering a link kind
        from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    return ifinfmsg


class _Classes(dict):  # type: ignore[type-arg]
    """``Marshal.msg_map`` with the link messages' class looked up when one first arrives."""

    def get(self, key: Any, default: Any = None) -> Any:
        if key in LINK_TYPES and not dict.__contains__(self, key):
            self.update(dict.fromkeys(LINK_TYPES, link_class()))
        return dict.get(self, key, default)

    def copy(self) -> _Classes:
        return _Classes(self)


class _Marshal(Marshal):  # type: ignore[misc]
    """pyroute2's generic parser with the rtnetlink classes of the messages this client asks for
    (the subset of ``MarshalRtnl.msg_map``, ``pyroute2/netlink/rtnl/marshal.py``); ``ifinfmsg`` for
    the link messages, imported when the first one comes (:func:`link_class`)."""

    msg_map = _Classes({RTM_NEWADDR: ifaddrmsg, RTM_DELADDR: ifaddrmsg, RTM_GETADDR: ifaddrmsg,
                        RTM_NEWROUTE: rtmsg, RTM_DELROUTE: rtmsg, RTM_GETROUTE: rtmsg})


_MARSHAL = _Marshal()


def parse(data: bytes) -> list[Any]:
    """The messages in one datagram from the kernel, decoded by pyroute2 (``Marshal.parse``); an
    error answer carries pyroute2's ``NetlinkError`` in ``msg["header"]["error"]``."""
    return list(_MARSHAL.parse(data))


def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _request(cls: type, commands: dict[str, tuple[int, str]], command: str) -> tuple[Any, str]:
    if command not in commands:
        raise Unsupported(f"{cls.__name__} {command!r}")
    msg_type, mode = commands[command]
    msg = cls()
    msg["header"]["type"] = msg_type
    msg["header"]["flags"] = FLAGS[mode]
    return msg, mode


def link_request(command: str, kwargs: dict[str, Any]) -> Any:
    """An ``ifinfmsg`` for ``IPRoute.link(command, **kwargs)`` (``RTNL_API.link``,
    ``pyroute2/requests/link.py``: ``state`` sets ``IFF_UP`` in ``flags`` and ``change``; a MAC in
    lower case; every other keyword is the ``IFLA_*`` attribute of that name, in the caller's order)."""
    ifinfmsg = link_class()
    msg, mode = _request(ifinfmsg, LINK_COMMANDS, command)
    unknown = set(kwargs) - LINK_KEYS["set" if command == "set" else mode]
    if unknown:
        raise Unsupported(f"link {command} with {', '.join(sorted(unknown))}")
    for key, value in kwargs.items():
        if value is None:
            continue
        if key == "index":
            msg["index"] = value
        elif key == "state":
            msg["flags"] = IFF_UP if value == "up" else 0  # ifinfmsg.IFF_UP, netdevice(7)
            msg["change"] = IFF_UP
        else:
            if key == "address" and isinstance(value, str):
                value = value.lower()
            msg["attrs"].append([ifinfmsg.name2nla(key), value])
    return msg


def addr_request(command: str, kwargs: dict[str, Any]) -> Any:
    """An ``ifaddrmsg`` for ``IPRoute.addr(command, **kwargs)`` (``pyroute2/requests/address.py``:
    the family from the address, ``flags`` as ``IFA_FLAGS``, and
    ``IFA_LOCAL`` = the address for IPv4, last)."""
    msg, mode = _request(ifaddrmsg, ADDR_COMMANDS, command)
    if mode == "dump":
        if set(kwargs) - {"family"}:
            raise Unsupported("addr dump filter")
        msg["family"] = kwargs.get("family") or 0
        return msg
    unknown = set(kwargs) - ADDR_KEYS
    if unknown or "address" not in kwargs:
        raise Unsupported(f"addr {command} with {', '.join(sorted(unknown)) or 'no address'}")
    address = str(kwargs["address"])
    if "/" in address or "prefixlen" not in kwargs:
        raise Unsupported("addr without a separate prefixlen")
    family = _family(address)
    msg["family"] = family
    for key, value in kwargs.items():
        if key in ("index", "prefixlen"):
            msg[key] = int(value)
        elif key == "address":
            msg["attrs"].append(["IFA_ADDRESS", address])
        elif value is not None:
            msg["attrs"].append([ifaddrmsg.name2nla(key), value])
    if family == socket.AF_INET:
        msg["attrs"].append(["IFA_LOCAL", address])
    return msg


def _target(value: str) -> tuple[int, str | None, int | None]:
    """``dst`` as ``RouteFieldFilter.set_dst`` reads it (``pyroute2/requests/common.py``,
    ``IPTargets``): (family, address or None for a default route, prefix length)."""
    if value in ("0.0.0.0", "0.0.0.0/0", "0"):
        return socket.AF_INET, None, None
    if value in ("::", "::/0"):
        return socket.AF_INET6, None, None
    address, _, plen = value.partition("/")
    family = _family(address)
    length = int(plen) if plen else (32 if family == socket.AF_INET else 128)
    return family, address, length


def _route_value(table: dict[str, int], value: Any) -> int:
    return table[value] if isinstance(value, str) else int(value)


def route_request(command: str, kwargs: dict[str, Any]) -> Any:
    """An ``rtmsg`` for ``IPRoute.route(command, **kwargs)`` (``RTNL_API.route``,
    ``pyroute2/requests/route.py``): ``proto`` static and ``type`` unicast unless given (add,
    replace); the ``table`` field is the table if below 255, else 254, and a given table also
    goes in ``RTA_TABLE``; names of protocols, scopes and types as pyroute2's ``rt_*`` maps."""
    msg, mode = _request(rtmsg, ROUTE_COMMANDS, command)
    if mode == "dump":
        if set(kwargs) - {"family"}:
            raise Unsupported("route dump filter")
        msg["family"] = kwargs.get("family", 255)
        msg["table"] = RT_TABLE_MAIN
        return msg
    unknown = set(kwargs) - ROUTE_KEYS
    if unknown or not isinstance(kwargs.get("dst"), str) or kwargs["dst"] in ("", "default"):
        raise Unsupported(f"route {command} with {', '.join(sorted(unknown)) or 'this dst'}")
    kw = dict(kwargs)
    if command in ("add", "set", "replace", "change", "append"):
        kw["proto"] = kw.get("proto", "static") or "static"
        kw["type"] = kw.get("type", "unicast") or "unicast"
    table = int(kw.get("table") or 0)
    msg["table"] = table if 0 < table < 255 else RT_TABLE_MAIN
    for key, value in kw.items():
        if value is None or value == "":
            continue
        if key == "dst":
            family, address, length = _target(value)
            msg["family"] = family
            if address is not None:
                msg["dst_len"] = length
                msg["attrs"].append(["RTA_DST", address])
        elif key in ("gateway", "prefsrc"):
            if key == "gateway":
                msg["family"] = _family(str(value))
            msg["attrs"].append([rtmsg.name2nla(key), str(value)])
        elif key in ("proto", "scope", "type"):
            msg[key] = _route_value({"proto": rt_proto, "scope": rt_scope, "type": rt_type}[key], value)
        elif key == "table":
            msg["attrs"].append(["RTA_TABLE", int(value)])
        else:
            msg["attrs"].append([rtmsg.name2nla(key), value])
    return msg


def encode_request(msg: Any, seq: int, pid: int) -> bytes:
    """The bytes of a request built above: pyroute2's own ``nlmsg.encode()``."""
    msg["header"]["sequence_number"] = seq
    msg["header"]["pid"] = pid
    msg.reset()
    msg.encode()
    return bytes(msg.data)


def _matches(msg: Any, want: dict[str, Any]) -> bool:
    """A dump filter as pyroute2's ``NetlinkRequest.match_one_message`` applies a dict: every key's
    value (``msg.get``: the attribute, else the field) equals the one asked for."""
    return all(msg.get(key) == value for key, value in want.items())


def iproute_class() -> Any:
    """pyroute2's ``IPRoute``, without the package's ``__init__`` (for the calls :class:`Rtnl`
    hands on)."""
    lean_package("pyroute2.iproute")
    from pyroute2.iproute.linux import IPRoute

    return IPRoute


class Rtnl:
    """One rtnetlink socket (in namespace ``netns``, a name under ``/run/netns`` or a path, which
    must exist: ``FileNotFoundError`` if not, as ``IPRoute(netns=…, flags=0)``), speaking the calls
    of ``IPRoute`` listed in the module's description. Raises pyroute2's ``NetlinkError`` for a
    kernel error, ``OSError`` for a socket error. Not thread-safe (one request at a time)."""

    def __init__(self, netns: str | None = None, *, ext_ack: bool = True) -> None:
        self.netns = netns
        self.ext_ack = ext_ack
        self._seq = 0
        self._fallback: Any = None
        self.sock = self._socket(netns)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
            if ext_ack:
                try:
                    self.sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
                except OSError:  # before Linux 4.12 (ENOPROTOOPT): errors then come without their text
                    self.ext_ack = False
            self.sock.bind((0, 0))
            self.pid = int(self.sock.getsockname()[0])
        except BaseException:
            self.sock.close()
            raise

    @staticmethod
    def _socket(netns: str | None) -> socket.socket:
        if netns is None:
            return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
        from pyroute2 import netns as pyroute2_netns  # a child process opens it there (setns(2))

        return pyroute2_netns.create_socket(  # type: ignore[no-any-return]
            netns, socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE, flags=0)

    # --- the exchange --------------------------------------------------------------------------

    def request(self, msg: Any, *, dump: bool = False) -> list[Any]:
        """Send one request; its answer as ``IPRoute`` gives it: every message of a dump, or the
        first answer (the object, or the acknowledgement) of any other request."""
        self._seq = self._seq % 0xFFFF + 1
        seq = self._seq
        self.sock.send(encode_request(msg, seq, self.pid))
        out: list[Any] = []
        while True:
            for reply in parse(self.sock.recv(RECV_SIZE)):
                if reply["header"]["sequence_number"] != seq:
                    continue  # the acknowledgement of an earlier "get", which stopped at its answer
                error = reply["header"].get("error")
                if error is not None:
                    raise error
                if dump and reply["header"]["type"] == NLMSG_DONE:
                    return out
                if not dump:
                    return [reply]
                out.append(reply)

    def _iproute(self) -> Any:
        if self._fallback is None:
            kw: dict[str, Any] = {"ext_ack": self.ext_ack}
            if self.netns is not None:
                kw.update(netns=self.netns, flags=0)  # flags=0: never create a missing namespace
            self._fallback = iproute_class()(**kw)
        return self._fallback

    def _call(self, build: Callable[[str, dict[str, Any]], Any], command: str, kwargs: dict[str, Any],
              name: str) -> Any:
        try:
            msg = build(command, kwargs)
        except Unsupported:
            return getattr(self._iproute(), name)(command, **kwargs)
        return self.request(msg, dump=msg["header"]["flags"] & NLM_F_DUMP == NLM_F_DUMP)

    # --- the IPRoute calls ---------------------------------------------------------------------

    def link(self, command: str, **kwargs: Any) -> Any:
        """``IPRoute.link``: a list of ``ifinfmsg`` (``get``, ``dump``) or the acknowledgement."""
        return self._call(link_request, command, kwargs, "link")

    def link_lookup(self, **kwargs: Any) -> list[int]:
        """``IPRoute.link_lookup(ifname=…)``: ``[index]``, or ``[]`` when there is no such link.

        In the process's own namespace by ``socket.if_nametoindex`` (``ioctl(SIOCGIFINDEX)``), which
        finds a name as ``RTM_GETLINK`` with ``IFLA_IFNAME`` does (both ``netdev_name_node_lookup``,
        net/core/dev.c: the name or an alternative name), so no link message (``ifinfmsg``) is
        needed; a name it does not find is asked of the kernel by netlink as before."""
        if set(kwargs) != {"ifname"}:
            return list(self._iproute().link_lookup(**kwargs))
        if self.netns is None:
            try:
                return [socket.if_nametoindex(kwargs["ifname"])]
            except (OSError, ValueError, TypeError):
                pass
        try:
            return [int(msg["index"]) for msg in self.link("get", **kwargs)][:1]
        except (NetlinkError, KeyError):
            return []

    def link_flags(self, ifname: str, index: int) -> int:
        """The flags of link ``index`` (named ``ifname``) as ``RTM_GETLINK``'s ``ifi_flags``
        (``IFF_UP``, ``IFF_LOWER_UP``: include/uapi/linux/if.h). In the process's own namespace read
        without a link message (``linkup.local_flags``: ``ioctl(SIOCGIFFLAGS)`` and the link's
        ``carrier`` in sysfs); in a named namespace, or when that read fails, by ``RTM_GETLINK``."""
        if self.netns is None:
            try:
                return local_flags(ifname)
            except (OSError, ValueError):
                pass
        (msg,) = self.link("get", index=index)
        return int(msg["flags"])

    def get_links(self, *indexes: Any, **kwargs: Any) -> list[Any]:
        """``IPRoute.get_links()``: every link; ``get_links(i, j)``: those links."""
        if kwargs:
            return list(self._iproute().get_links(*indexes, **kwargs))
        if not indexes or indexes[0] in (0, "all"):
            return list(self.link("dump"))
        return [msg for index in indexes for msg in self.link("get", index=index)]

    def addr(self, command: str, **kwargs: Any) -> Any:
        """``IPRoute.addr``: the acknowledgement, or (``dump``) a list of ``ifaddrmsg``."""
        return self._call(addr_request, command, kwargs, "addr")

    def get_addr(self, family: int = socket.AF_UNSPEC, **match: Any) -> list[Any]:
        """``IPRoute.get_addr``: the addresses of ``family`` (all if 0) matching ``index``, ``scope``."""
        if set(match) - ADDR_MATCH:
            return list(self._iproute().get_addr(family=family, **match))
        return [m for m in self.addr("dump", family=family) if _matches(m, match)]

    def route(self, command: str, **kwargs: Any) -> Any:
        """``IPRoute.route``: the acknowledgement, or (``dump``) a list of ``rtmsg``."""
        return self._call(route_request, command, kwargs, "route")

    def get_routes(self, family: int = 255, **match: Any) -> list[Any]:
        """``IPRoute.get_routes``: the routes of ``family`` (255: every family, pyroute2's way of
        asking for all) matching ``table`` (``RTA_TABLE``) and ``oif``."""
        if set(match) - ROUTE_MATCH:
            return list(self._iproute().get_routes(family=family, **match))
        return [m for m in self.route("dump", family=family) if _matches(m, match)]

    def close(self) -> None:
        """Close the socket (and the ``IPRoute`` opened for calls handed on, if any)."""
        if self._fallback is not None:
            self._fallback.close()
            self._fallback = None
        self.sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

