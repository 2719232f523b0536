"""``ibftkit.infra.timing``: the ``--timings`` phases, from the process's start."""

from __future__ import annotations

from pathlib import Path

from ibftkit.infra.timing import Phases, process_start


def test_phases_from_the_process_start() -> None:
    p = Phases(started=10.0, now=10.4)
    p.begin("source", now=10.5)
    p.begin("network", now=11.0)
    assert p.summary(now=12.25) == ("start-up 0.40 s, options 0.10 s, source 0.50 s, network 1.25 s, "
                                    "total 2.25 s (10.00-12.25 s since boot)")


def test_unknown_or_future_start_counts_from_now() -> None:
    assert Phases(started=None, now=5.0).start <= 5.0
    assert Phases(started=9.0, now=5.0).summary(now=5.5) == ("start-up 0.00 s, options 0.50 s, total 0.50 s "
                                                          "(5.00-5.50 s since boot)")


def test_process_start_reads_field_22(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    fields = ["S"] + ["0"] * 18 + ["12345"] + ["0"] * 30  # fields 3.. ; field 22 is the 20th of them
    stat.write_text("4242 (a b) c) " + " ".join(fields) + "\n")
    start = process_start(str(stat))
    assert start is not None and start > 0
    assert process_start(str(tmp_path / "missing")) is None
    assert process_start() is not None  # this very process
