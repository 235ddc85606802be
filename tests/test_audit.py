"""The hash-chained audit log on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from publisher import audit
from publisher.store import Store

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def _fill(store: Store, n: int = 5) -> None:
    for i in range(n):
        with store.write() as session:
            audit.append(session, at=T0 + timedelta(seconds=i, microseconds=123), actor="staff:li",
                         action="delivery.published", subject=f"delivery:{i}",
                         details={"channel": "portal-main", "n": i, "标题": "食品安全"})


def _verify(store: Store) -> audit.Verdict:
    with store.read() as session:
        return audit.verify(session)


def test_intact_chain_verifies(store: Store) -> None:
    """A chain written through append verifies, with its count."""
    _fill(store)
    verdict = _verify(store)
    assert verdict.ok and verdict.count == 5


def test_edited_row_is_named(store: Store) -> None:
    """Changing one row's details is detected at that row."""
    _fill(store)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'staff:wang' WHERE seq = 3"))
    verdict = _verify(store)
    assert not verdict.ok and verdict.bad_seq == 3
    assert "hash" in (verdict.reason or "")


def test_deleted_row_is_named(store: Store) -> None:
    """Deleting a row in the middle names the missing sequence number."""
    _fill(store)
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    verdict = _verify(store)
    assert not verdict.ok and verdict.bad_seq == 2


def test_deleted_tail_is_detected(store: Store) -> None:
    """Cutting off the newest row is caught by the head record."""
    _fill(store)
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq = 5"))
    verdict = _verify(store)
    assert not verdict.ok and verdict.bad_seq == 5


def test_reordered_rows_are_detected(store: Store) -> None:
    """Swapping the contents of two rows (keeping their hashes) breaks the chain at the first."""
    _fill(store)
    with store.engine.begin() as connection:
        rows = {r.seq: r for r in connection.execute(
            text("SELECT seq, subject, details FROM audit_events WHERE seq IN (2, 4)"))}
        for seq, other in ((2, 4), (4, 2)):
            connection.execute(
                text("UPDATE audit_events SET subject = :s WHERE seq = :q"),
                {"s": rows[other].subject, "q": seq})
    verdict = _verify(store)
    assert not verdict.ok and verdict.bad_seq == 2


def test_secret_is_redacted_before_hashing(store: Store) -> None:
    """A registered secret in event details is stored as *** and the chain still verifies."""
    from publisher.logs import register_secret

    register_secret("s3cr3t-app-secret-value")
    with store.write() as session:
        audit.append(session, at=T0, actor="system", action="channel.error", subject="channel:x",
                     details={"message": "bad secret s3cr3t-app-secret-value in url"})
    with store.read() as session:
        out = io.StringIO()
        audit.export(session, out)
    assert "s3cr3t-app-secret-value" not in out.getvalue()
    assert _verify(store).ok


def test_export_is_json_lines_with_hashes(store: Store) -> None:
    """Export writes one JSON object a line, in order, each carrying prev_hash and hash."""
    _fill(store, 3)
    out = io.StringIO()
    with store.read() as session:
        assert audit.export(session, out) == 3
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["seq"] for e in lines] == [1, 2, 3]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    assert lines[0]["details"]["标题"] == "食品安全"


# --------------------------------------------------------------------------- checkpoint


def _record(store: Store, verdict: audit.Verdict) -> None:
    with store.write() as session:
        audit.record(session, verdict, at=T0)


def _since_checkpoint(store: Store) -> audit.Verdict:
    with store.read() as session:
        return audit.verify(session, since=audit.checkpoint(session))


def test_check_from_the_checkpoint_recomputes_only_new_events(store: Store) -> None:
    """After a full check is recorded, a check from the checkpoint recomputes only the events
    appended since (3 of 8), yet reports the whole chain's count; recording it moves the
    checkpoint to the newest event."""
    _fill(store, 5)
    first = _verify(store)
    assert first.ok and first.full and first.checked == 5
    _record(store, first)
    _fill(store, 3)
    verdict = _since_checkpoint(store)
    assert verdict.ok and verdict.count == 8 and verdict.checked == 3 and verdict.since == 5
    _record(store, verdict)
    with store.read() as session:
        mark = audit.checkpoint(session)
        assert mark is not None and mark.seq == 8 and not mark.full
    assert _since_checkpoint(store).checked == 0


def test_tampering_after_the_checkpoint_is_caught_from_it(store: Store) -> None:
    """An event edited after the checkpoint is named by the check from the checkpoint."""
    _fill(store, 5)
    _record(store, _verify(store))
    _fill(store, 3)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'staff:wang' WHERE seq = 7"))
    verdict = _since_checkpoint(store)
    assert not verdict.ok and verdict.bad_seq == 7 and verdict.since == 5


def test_tampering_before_the_checkpoint_is_caught_by_the_full_check(store: Store) -> None:
    """An event edited before the checkpoint passes the check from the checkpoint (it is not
    recomputed) but not the full check; recording the full verdict moves the checkpoint back
    before the bad event, so the check from it names that event too."""
    _fill(store, 5)
    _record(store, _verify(store))
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'staff:wang' WHERE seq = 2"))
    assert _since_checkpoint(store).ok
    full = _verify(store)
    assert not full.ok and full.bad_seq == 2
    _record(store, full)
    with store.read() as session:
        mark = audit.checkpoint(session)
        assert mark is not None and mark.seq == 1
    again = _since_checkpoint(store)
    assert not again.ok and again.bad_seq == 2


def test_a_changed_checkpoint_event_falls_back_to_the_full_check(store: Store) -> None:
    """If the event the checkpoint names is gone or carries another hash, the check from the
    checkpoint recomputes the whole chain and names the first bad row."""
    _fill(store, 5)
    _record(store, _verify(store))
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq = 5"))
    verdict = _since_checkpoint(store)
    assert not verdict.ok and verdict.full and verdict.bad_seq == 5


def test_a_stale_check_from_the_checkpoint_does_not_move_it_over_a_break(store: Store) -> None:
    """A check from the checkpoint that finished after a full check found a break (and moved
    the checkpoint back before it) does not carry the checkpoint past that break again."""
    _fill(store, 5)
    _record(store, _verify(store))
    _fill(store, 3)
    stale = _since_checkpoint(store)  # from 5: intact, 6 to 8 recomputed
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'staff:wang' WHERE seq = 2"))
    _record(store, _verify(store))  # the full check: broken at 2, checkpoint back to 1
    _record(store, stale)
    with store.read() as session:
        mark = audit.checkpoint(session)
        assert mark is not None and mark.seq == 1
    assert _since_checkpoint(store).bad_seq == 2
