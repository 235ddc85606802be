"""Benchmark: verifying the audit chain from its checkpoint (the console's view) next to in full."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file (bench/audit_view.py): the project root first
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch_throughput import Check, logs_discarded
from publisher import audit
from publisher.store import Store

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
REPEAT = 5
BATCH = 500


def _append(store: Store, first: int, count: int) -> None:
    """``count`` failed-sign-in events (what grows the chain most), ``BATCH`` per transaction."""
    for start in range(first, first + count, BATCH):
        with store.write() as session:
            for n in range(start, min(start + BATCH, first + count)):
                audit.append(session, at=T0 + timedelta(seconds=n), actor="anonymous",
                             action="account.sign_in_failed", subject="account:?",
                             details={"reason": "unknown_account", "client": "127.0.0.1"})


def _timed(store: Store, incremental: bool) -> tuple[float, audit.Verdict]:
    runs, verdict = [], None
    for _ in range(REPEAT):
        started = time.perf_counter()
        with store.read() as session:
            mark = audit.checkpoint(session) if incremental else None
            verdict = audit.verify(session, since=mark)
        runs.append(time.perf_counter() - started)
    assert verdict is not None
    return statistics.median(runs), verdict


def run(events: int, new: int) -> dict[str, Any]:
    """A chain of ``events``, checked in full and recorded; ``new`` more appended; then both
    checks timed (median of REPEAT)."""
    check = Check()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as folder, logs_discarded():
        store = Store(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            _append(store, 0, events)
            with store.read() as session:
                first = audit.verify(session)
            with store.write() as session:
                audit.record(session, first, at=T0)
            _append(store, events, new)
            full_s, full = _timed(store, incremental=False)
            view_s, view = _timed(store, incremental=True)
        finally:
            store.dispose()
    check.expect(full.ok and full.count == events + new, f"full check: {full.describe()}")
    check.expect(view.ok and view.count == events + new and view.checked == new,
                 f"view check: {view.describe()}, {view.checked} recomputed")
    return {"ok": not check.problems, "problems": check.problems, "events": events + new,
            "new": new, "full_ms": round(full_s * 1000, 2), "full_checked": full.checked,
            "view_ms": round(view_s * 1000, 2), "view_checked": view.checked,
            "ratio_full_to_view": round(full_s / view_s, 1) if view_s else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=6_700, help="chain length (6,700)")
    parser.add_argument("--new", type=int, default=10, help="events added after the check (10)")
    parser.add_argument("--quick", action="store_true", help="500 events")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    options = parser.parse_args(argv)
    result = run(500 if options.quick else max(1, options.events), max(0, options.new))
    if options.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key:22} {value}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
