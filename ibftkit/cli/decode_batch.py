"""``ibftkit decode --format json PATH…`` over many tables: one JSON object per line, on all cores.

For audits of captured tables: each PATH is a table file, a memory image (``--scan``), a
``/sys/firmware/ibft``-shaped tree, or a directory of any of these (walked in name order). Every
input gives one line, in input order::

    {"path": "dumps/a.bin", "ok": true, "model": {...}}        # the object "decode --format json" prints
    {"path": "dumps/b.bin", "ok": false, "error": "header.length at 0x4: ..."}

``error`` is the one-line message ``ibftkit decode PATH`` gives for that table (same checks, same
text); ``model`` is ``ibftkit.model_json.config_to_dict`` (secrets redacted unless
``--show-secrets``). Tables are decoded in forked worker processes (``multiprocessing``, one per
core unless ``--jobs``), each reading its files and sending back its lines as bytes, a chunk at a
time; the parent writes them in input order.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from ..infra.errors import IbftkitError, UsageError

#: tables a worker decodes per message (one read of each file, one JSON line each, sent back as one
#: block of bytes)
_CHUNK = 128
_SYSFS_ENTRIES = ("initiator", "ethernet0", "target0")


class Job(NamedTuple):
    scan: bool
    strict: bool
    show_secrets: bool


def is_sysfs_tree(d: Path) -> bool:
    """A directory shaped like ``/sys/firmware/ibft`` (``drivers/firmware/iscsi_ibft.c``'s kobjects)."""
    return any((d / name).is_dir() for name in _SYSFS_ENTRIES)


def wants_batch(paths: list[str]) -> bool:
    """Several inputs, or one directory that is not a sysfs tree."""
    if len(paths) > 1:
        return True
    return len(paths) == 1 and Path(paths[0]).is_dir() and not is_sysfs_tree(Path(paths[0]))


def expand(paths: Iterable[str]) -> Iterator[str]:
    """Every input a PATH names: itself, or a directory's files and sysfs trees in name order."""
    for p in paths:
        d = Path(p)
        if d.is_dir() and not is_sysfs_tree(d):
            with os.scandir(d) as entries:
                found = sorted((e.name, e.path, e.is_dir()) for e in entries)
            for _, path, is_dir in found:  # scandir: no stat for a plain file (a fleet is thousands)
                if is_dir:
                    yield from expand([path])
                else:
                    yield path
        else:
            yield p


def decode_line(path: str, job: Job) -> tuple[bool, str]:
    """(decoded?, the JSON line without its newline) for one input."""
    return next(decode_lines([path], job))


def decode_lines(paths: Iterable[str], job: Job) -> Iterator[tuple[bool, str]]:
    """``decode_line`` for each of ``paths``, in order."""
    from ..model_json import config_to_dict
    from ..sources.ibft.locate import decode_file, load_path

    dumps = json.dumps
    for path in paths:
        try:
            data = None
            if not job.scan and path != "/dev/mem":  # the common case: a table file, read once (no stat)
                try:
                    with open(path, "rb", buffering=0) as f:
                        data = f.read()
                except OSError:  # a directory, a missing or unreadable file: load_path says which
                    pass
            if data is None:
                cfg = load_path(path, scan=job.scan, strict=job.strict)
            else:
                cfg = decode_file(_as_path(path), data, strict=job.strict)
        except IbftkitError as e:
            yield False, dumps({"path": path, "ok": False, "error": str(e)})
            continue
        except OSError as e:  # a file that went away or turned unreadable between listing and reading
            yield False, dumps({"path": path, "ok": False, "error": f"{path}: cannot read ({e.strerror or e})"})
            continue
        yield True, dumps({"path": path, "ok": True, "model": config_to_dict(cfg, show_secrets=job.show_secrets)})


_JOB = Job(False, False, False)
_DIRS: dict[str, str] = {}


def _as_path(path: str) -> str | Path:
    """``Path(path)`` as text (the ``file:`` source label), its directory part normalised once per
    directory: a fleet's thousands of files share a few directories."""
    head, _, tail = path.rpartition("/")
    if not head or not tail or tail in (".", ".."):
        return Path(path)
    norm = _DIRS.get(head)
    if norm is None:
        norm = _DIRS[head] = str(Path(head))
    return Path(path) if norm == "." or norm.endswith("/") else f"{norm}/{tail}"


def _init_worker(job: Job) -> None:
    global _JOB
    _JOB = job


def _worker(paths: list[str]) -> tuple[int, bytes]:
    """(failures, their lines as UTF-8): one message back per chunk, not per table."""
    failed, lines = 0, []
    for ok, line in decode_lines(paths, _JOB):
        failed += not ok
        lines.append(line)
    lines.append("")
    return failed, "\n".join(lines).encode()


def cores() -> int:
    """The cores this process may run on (``sched_getaffinity``), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def run_batch(paths: list[str], job: Job, *, jobs: int | None = None, out: Any = None) -> tuple[int, int]:
    """Decode every input, writing one line each to ``out`` (stdout) in input order; returns
    (inputs, failures). ``jobs``: worker processes (default: every core; 1: in this process)."""
    out = out or sys.stdout
    items = list(expand(paths))
    if not items:
        raise UsageError("ibftkit decode: no file under " + ", ".join(paths))
    jobs = min(jobs or cores(), len(items))
    from ..model_json import config_to_dict  # noqa: F401  (imported here once, not in every worker)
    from ..sources.ibft.decode import prepare_for_batch
    from ..sources.ibft.locate import decode_file  # noqa: F401

    prepare_for_batch()  # before the workers fork: they inherit it
    binary = getattr(out, "buffer", None)
    if binary is not None:
        out.flush()

    def write(text: bytes) -> None:
        if binary is not None:
            binary.write(text)
        else:
            out.write(text.decode())

    failed = 0
    if jobs <= 1:
        _init_worker(job)
        for k in range(0, len(items), _CHUNK):
            bad, text = _worker(items[k:k + _CHUNK])
            failed += bad
            write(text)
        return len(items), failed
    import multiprocessing

    ctx = multiprocessing.get_context("fork")  # workers share the imported modules; nothing to pickle but paths
    size = max(1, min(_CHUNK, len(items) // (jobs * 4)))
    parts = [items[k:k + size] for k in range(0, len(items), size)]
    with ctx.Pool(jobs, initializer=_init_worker, initargs=(job,)) as pool:
        for bad, text in pool.imap(_worker, parts):
            failed += bad
            write(text)
    return len(items), failed
