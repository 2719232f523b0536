"""Unit tier: pure code. Subprocesses and network sockets fail loudly here."""

from __future__ import annotations

import _socket
import socket
import subprocess

import pytest


class UnexpectedSideEffect(AssertionError):
    pass


@pytest.fixture(autouse=True)
def _no_subprocess_or_network(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("allow_subprocess"):
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise UnexpectedSideEffect(f"unit test tried to run a subprocess: {args!r}")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)

    real_socket = socket.socket

    class GuardedSocket(real_socket):  # type: ignore[misc, valid-type]
        def __init__(self, family: int = -1, type: int = -1, proto: int = -1, fileno: int | None = None):
            if family in (socket.AF_INET, socket.AF_INET6, getattr(socket, "AF_PACKET", -2),
                          getattr(socket, "AF_NETLINK", -3)):
                raise UnexpectedSideEffect(f"unit test tried to open a socket (family {family})")
            super().__init__(family, type, proto, fileno)

    monkeypatch.setattr(socket, "socket", GuardedSocket)

    real_raw = _socket.socket  # what socket.socket subclasses; network.linkup opens it for its ioctls

    class GuardedRawSocket(real_raw):  # type: ignore[misc, valid-type]
        def __init__(self, family: int = -1, type: int = -1, proto: int = -1, fileno: int | None = None):
            if family in (socket.AF_INET, socket.AF_INET6, getattr(socket, "AF_PACKET", -2),
                          getattr(socket, "AF_NETLINK", -3)):
                raise UnexpectedSideEffect(f"unit test tried to open a socket (family {family})")
            super().__init__(family, type, proto, fileno)

    monkeypatch.setattr(_socket, "socket", GuardedRawSocket)


