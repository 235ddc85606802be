"""A campaign's size and seed (``Plan``) and what it counted (``Result``, its summary table)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Plan:
    """How big and how rough a campaign is; ``seed`` decides every random choice."""

    seed: int
    kills: int
    fault_rate: float = 0.2
    database: str = "sqlite"  # or "postgresql" (PUBLISHER_TEST_PG's server, own database)
    every_seconds: int = 4  # the release's cron: a fire time every this many seconds
    timeout_seconds: float = 2.0  # the bot's HTTP timeout
    held_seconds: float = 4.0  # delay / late_answer hold a request this long (> timeout)
    settle_seconds: float = 8.0  # an unknown create is looked for after this (> held)
    up_seconds: tuple[float, float] = (0.0, 8.0)  # a daemon runs this long, then SIGKILL
    startup_kill_chance: float = 0.15  # ...or is killed while it starts
    down_seconds: tuple[float, float] = (0.0, 4.0)  # then stays down this long
    urgent_chance: float = 0.5  # of an urgent post being filed while a daemon runs
    settle_limit_seconds: float = 420.0  # the last daemon's time to settle everything


@dataclass
class Result:
    """What was counted; ``violations`` lists every broken guarantee, by kind."""

    plan: Plan
    kills: int = 0
    starts: int = 0
    releases: Counter[str] = field(default_factory=Counter)  # by state
    deliveries: Counter[str] = field(default_factory=Counter)  # by state
    urgent_filed: int = 0
    urgent_refused: list[str] = field(default_factory=list)
    fire_times: int = 0
    missed_runs: int = 0
    publications: Counter[str] = field(default_factory=Counter)  # live, by kind
    removed_copies: Counter[str] = field(default_factory=Counter)  # extra copies taken down
    # deliveries still outstanding when the last daemon stopped (made after it started) that
    # are already at their emulator: each must be found, not sent again, at the next start
    landed_outstanding: list[str] = field(default_factory=list)
    faults: dict[str, dict[str, int]] = field(default_factory=dict)
    violations: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    log: Path | None = None

    def violate(self, kind: str, text: str) -> None:
        self.violations.setdefault(kind, []).append(text)

    def count(self, kind: str) -> int:
        return len(self.violations.get(kind, []))

    def table(self) -> str:
        """The summary printed at the end of a campaign."""
        p = self.plan
        faults = Counter[str]()
        for per_kind in self.faults.values():
            faults.update(per_kind)
        lines = [
            f"campaign seed={p.seed} database={p.database} fault_rate={p.fault_rate:.0%} "
            f"({self.seconds:.0f} s; log {self.log})",
            f"  {'kills (SIGKILL)':<28}{self.kills:>8}",
            f"  {'daemon starts':<28}{self.starts:>8}",
            f"  {'fire times':<28}{self.fire_times:>8}",
            f"  {'  of which missed (recorded)':<28}{self.missed_runs:>8}",
            f"  {'urgent posts filed':<28}{self.urgent_filed:>8}",
            f"  {'releases':<28}{sum(self.releases.values()):>8}  "
            + " ".join(f"{k}={v}" for k, v in sorted(self.releases.items())),
            f"  {'deliveries':<28}{sum(self.deliveries.values()):>8}  "
            + " ".join(f"{k}={v}" for k, v in sorted(self.deliveries.items())),
            f"  {'live at the emulators':<28}{sum(self.publications.values()):>8}  "
            + " ".join(f"{k}={v}" for k, v in sorted(self.publications.items())),
            f"  {'copies made and removed':<28}{sum(self.removed_copies.values()):>8}  "
            + " ".join(f"{k}={v}" for k, v in sorted(self.removed_copies.items())),
            f"  {'outstanding, already landed':<28}{len(self.landed_outstanding):>8}  "
            + " ".join(self.landed_outstanding[:5]),
            f"  {'requests through proxies':<28}{faults['requests']:>8}",
            f"  {'faults injected':<28}{sum(faults[f] for f in FAULT_NAMES):>8}  "
            + " ".join(f"{f}={faults[f]}" for f in FAULT_NAMES),
        ]
        for kind in VIOLATIONS:
            lines.append(f"  {kind:<28}{self.count(kind):>8}")
        for kind, items in self.violations.items():
            for item in items[:20]:
                lines.append(f"    {kind}: {item}")
            if len(items) > 20:
                lines.append(f"    {kind}: … {len(items) - 20} more")
        lines.append(f"replay: python -m tests.support.campaign --seed {p.seed} --kills {p.kills} "
                     f"--fault-rate {p.fault_rate} --database {p.database}")
        return "\n".join(lines)


FAULT_NAMES = ("delay", "late_answer", "drop", "reset", "error")
VIOLATIONS = ("lost", "duplicates", "unrecorded", "misrecorded", "unsettled", "no reason",
              "secret in log", "fire times unaccounted")

