"""``Log``'s kernel-log descriptor: a forked child takes its own (``reopen_kmsg``), so that the kernel's
per-open-file rate limit on ``/dev/kmsg`` (10 records per 5 s) is not shared with its parent. Here
the kernel log is a regular file (``--kmsg FILE``, as the netns tests give it)."""

from __future__ import annotations

import io
from pathlib import Path

from ibftkit.infra.log import Log


def test_reopen_takes_a_new_descriptor_and_keeps_appending(tmp_path: Path) -> None:
    kmsg = tmp_path / "kmsg"
    kmsg.touch()
    log = Log(prog="t", stream=io.StringIO(), kmsg=str(kmsg))
    log.progress("first")
    before = log._kmsg_fd
    log.reopen_kmsg()
    assert log._kmsg_fd is None  # opened again at the next message
    log.progress("second")
    assert log._kmsg_fd is not None and before is not None
    assert [ln.split(": ", 1)[1] for ln in kmsg.read_text().splitlines()] == ["first", "second"]
    log.close()


def test_reopen_without_a_kernel_log_stays_off(tmp_path: Path) -> None:
    log = Log(prog="t", stream=io.StringIO(), kmsg=None)
    log.reopen_kmsg()
    log.progress("x")
    assert log._kmsg_fd is None
