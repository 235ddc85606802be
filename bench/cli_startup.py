"""Benchmark: how long ``publisher --help`` and ``publisher log`` take, beside ``python -c pass``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"publisher --help": 0.3, "publisher log": 0.6}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="runs of each command (default 10)")
    parser.add_argument("--quick", action="store_true", help="2 runs each")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser.parse_args(argv)


def timed(command: Sequence[str], env: Mapping[str, str], runs: int) -> list[float]:
    """Wall seconds of each run (after one unmeasured run that warms the file cache)."""
    subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=True, timeout=120)
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=True, timeout=120)
        seconds.append(time.perf_counter() - started)
    return seconds


def run(runs: int) -> dict[str, Any]:
    python = sys.executable
    script = shutil.which("publisher", path=str(Path(python).parent)) or "publisher"
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{Path(folder) / 'p.db'}",
               "PUBLISHER_CONFIG": str(ROOT / "schedules.yaml")}
        # a database at the newest schema, made by a command that writes
        subprocess.run([script, "review", "list"], env=env, cwd=ROOT, capture_output=True,
                       check=True, timeout=300)
        commands = {"python -c pass": [python, "-c", "pass"],
                    "publisher --help": [script, "--help"],
                    "publisher log": [script, "log"]}
        results = {name: timed(command, env, runs) for name, command in commands.items()}
    floor = statistics.median(results["python -c pass"])
    rows = []
    for name, seconds in results.items():
        median = statistics.median(seconds)
        target = TARGETS.get(name)
        rows.append({"command": name, "median_s": round(median, 3), "min_s": round(min(seconds), 3),
                     "max_s": round(max(seconds), 3), "ratio_to_python": round(median / floor, 1),
                     "target_s": target,
                     "target_met": None if target is None else median < target})
    return {"runs": runs, "load_average": [round(v, 2) for v in os.getloadavg()],
            "commands": rows}


def table(result: Mapping[str, Any]) -> str:
    lines = [f"{result['runs']} runs each, load average {result['load_average']}", "",
             f"{'command':<18} {'median s':>9} {'min s':>7} {'max s':>7} {'× python':>9}  target"]
    for row in result["commands"]:
        target = "" if row["target_s"] is None else (
            f"< {row['target_s']} s {'met' if row['target_met'] else 'MISSED'}")
        lines.append(f"{row['command']:<18} {row['median_s']:>9.3f} {row['min_s']:>7.3f} "
                     f"{row['max_s']:>7.3f} {row['ratio_to_python']:>9.1f}  {target}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(2 if args.quick else args.runs)
    print(json.dumps(result) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
