"""Property: any single-byte change anywhere in a log, in either format (a segment of a log, or a
single-file log from before segments), is refused at open or is the torn-tail case, and in
neither case is a record before the damage lost."""

from __future__ import annotations

import asyncio
import bisect
import tempfile
from pathlib import Path
from typing import Final

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podium.events import logformat
from podium.events.filelog import FileEventLog
from podium.events.model import JobReady
from podium.events.ports import LogCorrupted
from podium.events.segments import segment_name, segments_dir
from tests.conftest import DATA

V1_LOG: Final = (DATA / "logs" / "v1" / "events.log").read_bytes()


def _format_2_log() -> bytes:
    """Twelve records of growing size, appended through the log itself."""

    async def build(path: Path) -> None:
        log = await FileEventLog.open(path, fsync=False)
        for n in range(1, 13):
            await log.append(
                [JobReady(at=1.0, job=f"{n}", origin="p", seq=n * 10 + i) for i in range(n)]
            )
        await log.close()

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "events.log"
        asyncio.run(build(path))
        return (segments_dir(path) / segment_name(0)).read_bytes()


V2_LOG: Final = _format_2_log()


def _check_one_change(original: bytes, offset: int, xor: int, *, segmented: bool) -> None:
    starts = list(logformat.scan(original).starts)
    damaged_record = max(0, bisect.bisect_right(starts, offset) - 1)
    payloads = [bytes(p) for p in logformat.payloads(original)]
    damaged = bytearray(original)
    damaged[offset] ^= xor
    with tempfile.TemporaryDirectory() as directory:
        log_path = Path(directory) / "events.log"
        segment = segments_dir(log_path) / segment_name(0)
        path = segment if segmented else log_path
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(damaged)
        try:
            log = asyncio.run(FileEventLog.open(log_path, fsync=False))
        except LogCorrupted as refused:
            message = str(refused)
        else:
            asyncio.run(log.close())
            message = ""
        if message:
            at = starts[damaged_record] if offset >= starts[0] else 0
            assert f"record {damaged_record} at byte {at} " in message
            assert path.read_bytes() == damaged  # untouched: nothing is lost
            return
        kept = [bytes(p) for p in logformat.payloads(segment.read_bytes())]
    # Opened: only the torn-tail case, the damaged record being the last one, cut alone.
    assert offset >= starts[0], "a changed segment header went unseen"
    assert damaged_record == len(starts) - 1, f"a change in record {damaged_record} went unseen"
    assert kept == payloads[:damaged_record]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_changed_byte_in_a_format_2_log_is_refused_or_a_torn_tail(data: st.DataObject) -> None:
    offset = data.draw(st.integers(0, len(V2_LOG) - 1), label="offset")
    xor = data.draw(st.integers(1, 255), label="xor")
    _check_one_change(V2_LOG, offset, xor, segmented=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_changed_byte_in_a_format_1_log_is_refused_or_a_torn_tail(data: st.DataObject) -> None:
    offset = data.draw(st.integers(0, len(V1_LOG) - 1), label="offset")
    xor = data.draw(st.integers(1, 255), label="xor")
    _check_one_change(V1_LOG, offset, xor, segmented=False)
