"""GET /orchestrator/v1/audit: who did what, each entry with the chain hash of the log record
holding it; one byte changed in a record breaks the chain at that record."""

from __future__ import annotations

import struct
import zlib
from itertools import pairwise
from pathlib import Path

import pytest

from podium.events import logformat
from podium.events.filelog import LOG_FILE
from podium.events.logcheck import verify
from podium.events.segments import segment_name, segments_dir
from podium.jsontypes import Json
from podium.rbac.permissions import ADMIN_PERMISSIONS
from tests.conftest import Api, running

ORCH = "puppetlabs.orchestrator"


async def who_did_what(api: Api) -> tuple[list[Json], str]:
    """An operator's day: a user, a role and its grants, a token, a task, a stop, a re-run.
    Returns the audit trail and the task job's name."""
    ann = await api.as_new_user("ann", ["tasks:run:*"])
    await api.admin("/roles/ann/grant", {"permissions": ["orchestrator:view:*"]})
    job = await ann.run_task(["n-01", "n-02"])
    await ann.wait_job(job)
    slow = await api.run_task(["slow-1"])
    status, _ = await api.post("/command/stop", {"job": slow, "force": True})
    assert status == 202
    await api.wait_job(slow)
    status, answer = await ann.post("/command/rerun", {"job": job, "nodes": "all"})
    assert status == 202, answer
    await ann.wait_job(answer["job"]["name"])
    trail = await api.ok("/audit")
    return trail["items"], job


def segment_of(data_dir: Path) -> Path:
    """The log's one segment (a short log has one)."""
    return segments_dir(data_dir / LOG_FILE) / segment_name(0)


def records_of(data: bytes) -> list[bytes]:
    """The records of a segment file (its header left out)."""
    starts = [*logformat.scan(data).starts, len(data)]
    return [data[start:end] for start, end in pairwise(starts)]


def tampered(record: bytes, at: int) -> bytes:
    """The record with one payload byte changed and both its CRCs made to fit again: a
    change meant to go unseen."""
    magic, length, _, previous, _ = logformat.HEADER.unpack_from(record)
    payload = bytearray(record[logformat.HEADER.size :])
    payload[at] ^= 0x01
    head = struct.pack(">4sII32s", magic, length, zlib.crc32(payload), previous)
    return head + zlib.crc32(head).to_bytes(4, "big") + bytes(payload)


async def test_the_trail_says_who_did_what_with_the_chain_hash_of_each_record(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    async with running(data_dir) as (_, api):
        entries, job = await who_did_what(api)
        page = await api.ok("/audit?start=1&limit=3")
        rest = await api.ok(f"/audit?start={page['next']['event']}")
    done = [(e["type"], e["user"]["login"] if e["user"] else None) for e in entries]
    first_start = [  # the built-in admin, made by no one
        ("user_created", None),
        ("role_created", None),
        *[("permission_granted", None)] * len(ADMIN_PERMISSIONS),
        ("user_added_to_role", None),
        ("token_issued", None),
    ]
    assert done == [
        *first_start,
        ("user_created", "admin"),
        ("role_created", "admin"),
        ("permission_granted", "admin"),
        ("user_added_to_role", "admin"),
        ("token_issued", "admin"),
        ("permission_granted", "admin"),
        ("job_requested.v2", "ann"),
        ("job_requested.v2", "admin"),
        ("job_stop_requested", "admin"),
        ("job_requested.v2", "ann"),
    ]
    (stop,) = [e for e in entries if e["type"] == "job_stop_requested"]
    assert (stop["user"]["login"], stop["details"]["force"]) == ("admin", True)
    (again,) = [e for e in entries if e["details"].get("rerun_of") == job]
    assert (again["user"]["login"], again["details"]["task"]) == ("ann", "testmod::echo")
    issued = [e for e in entries if e["type"] == "token_issued" and e["details"]["for"] == "ann"]
    assert len(issued) == 1
    assert "token" not in issued[0]["details"]  # the trail never shows a token or its hash
    ids = [int(e["id"]) for e in entries]
    assert ids == sorted(set(ids))
    assert page["items"] + rest["items"] == entries
    assert len(page["items"]) == 3

    records = records_of(segment_of(data_dir).read_bytes())
    for entry in entries:  # each hash is the record's own, as an auditor can compute it
        assert entry["chain"] == logformat.chain_hash(records[entry["record"]]).hex()


@pytest.mark.parametrize("hidden", [False, True], ids=["a byte flipped", "CRCs made to fit"])
async def test_one_byte_changed_breaks_the_chain_at_its_record(
    tmp_path: Path, hidden: bool
) -> None:
    data_dir = tmp_path / "data"
    async with running(data_dir) as (_, api):
        entries, job = await who_did_what(api)
    (requested,) = [
        e for e in entries if e["type"] == "job_requested.v2" and e["details"]["job"] == job
    ]
    target = int(requested["record"])
    log = segment_of(data_dir)
    header = log.read_bytes()[: logformat.SEGMENT_HEADER.size]
    records = records_of(log.read_bytes())
    assert target + 1 < len(records)  # records follow it
    record = records[target]
    changed = bytearray(tampered(record, 5) if hidden else record)
    if not hidden:
        changed[logformat.HEADER.size + 5] ^= 0x01
    records[target] = bytes(changed)
    log.write_bytes(header + b"".join(records))

    # An auditor holding the trail's hashes finds the first that no longer matches: this one.
    kept = {int(e["record"]): e["chain"] for e in entries}
    now = [logformat.chain_hash(r).hex() for r in records]
    assert min(r for r, chain in kept.items() if now[r] != chain) == target
    # The log itself refuses: the record's checksum, or the next record's chain hash.
    with pytest.raises(logformat.Damage) as damage:
        logformat.scan(log.read_bytes())
    assert damage.value.record == (target + 1 if hidden else target)
    if hidden:
        assert f"does not follow record {target}" in str(damage.value)
    verdict = verify(data_dir)
    assert verdict.damaged
    assert any(f"record {damage.value.record} at byte" in line for line in verdict.lines)


async def test_the_trail_needs_orchestrator_view_and_good_parameters(api: Api) -> None:
    runner = await api.as_new_user("runner", ["tasks:run:*"])
    status, answer = await runner.get("/audit")
    assert (status, answer["kind"]) == (403, f"{ORCH}/not-permitted")
    for query in ("start=0", "start=x", "limit=0", "limit=-2"):
        status, answer = await api.get(f"/audit?{query}")
        assert (status, answer["kind"], set(answer)) == (
            400,
            f"{ORCH}/validation-error",
            {"kind", "msg", "details"},
        ), query
