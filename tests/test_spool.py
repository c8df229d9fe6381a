"""The spool's journal: records come back in order, once, and a segment another process
writes is left alone until its writer is gone."""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.spool import Spool, SpooledDelivery, SpoolUnavailable

AT = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def record(n: int) -> SpooledDelivery:
    return SpooledDelivery(f"msg:{n}", {"FromUserName": "o-1", "Content": f"第{n}条"}, AT)


def drained(spool: Spool) -> list[str]:
    keys: list[str] = []
    spool.drain(lambda kept: keys.append(kept.key))
    return keys


def test_records_are_drained_in_order_once_and_counted_until_then(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for n in range(3):
        spool.append(record(n))
    assert spool.depth().records == 3 and spool.depth().oldest == AT
    spool.append(record(3))  # after the first drain starts a segment, into a new one
    assert drained(spool) == ["msg:0", "msg:1", "msg:2", "msg:3"]
    assert drained(spool) == []
    assert spool.depth().records == 0 and spool.depth().oldest is None
    spool.append(record(4))
    assert drained(spool) == ["msg:4"]


def test_a_handler_that_fails_leaves_the_segment_for_the_next_drain(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(record(1))
    spool.append(record(2))

    def fail_on_second(kept: SpooledDelivery) -> None:
        if kept.key == "msg:2":
            raise RuntimeError("database gone again")

    with pytest.raises(RuntimeError):
        spool.drain(fail_on_second)
    assert drained(spool) == ["msg:1", "msg:2"]


def test_a_torn_last_record_was_never_acknowledged_and_is_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(record(1))
    spool.seal()
    (segment,) = tmp_path.glob("inbound-*.jsonl")
    with segment.open("ab") as torn:
        torn.write(record(2).to_line()[:20])
    assert spool.depth().records == 1
    assert drained(spool) == ["msg:1"]


def test_another_writers_segment_waits_until_its_lock_is_gone(tmp_path: Path) -> None:
    """A live writer holds its segment's lock; a dead one's segment is adopted."""
    writer, drain = Spool(tmp_path), Spool(tmp_path)
    writer.append(record(1))
    (segment,) = tmp_path.glob("inbound-*.jsonl")
    assert drained(drain) == []
    assert drain.depth().records == 1
    writer.seal()  # as the writer's death would release it
    holder = os.open(segment, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another drain at work
        assert drained(drain) == []
    finally:
        os.close(holder)
    assert drained(drain) == ["msg:1"]


def test_a_spool_that_cannot_write_says_so(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    with pytest.raises(SpoolUnavailable):
        Spool(not_a_folder / "spool").append(record(1))
