"""One campaign from start to count, and its command line."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy import select

from publisher.store import Store
from publisher.store.models import Delivery, Release
from tests.support.campaign.count import SETTLED, count
from tests.support.campaign.plan import Plan, Result
from tests.support.campaign.project import ROOT, Bot, database, emulators, project, wait


def say_now(text: str) -> None:
    """Print a progress line at once (stdout is often a file)."""
    print(text, flush=True)


def run(plan: Plan, folder: Path, say: Callable[[str], None] = say_now) -> Result:
    """Run the campaign in ``folder`` and count what it did (see the package's docstring)."""
    rng = random.Random(plan.seed)
    result = Result(plan, log=folder / "campaign.log")
    assert result.log is not None
    started = time.monotonic()
    say(f"campaign seed={plan.seed} kills={plan.kills} fault_rate={plan.fault_rate} "
        f"database={plan.database} in {folder}")
    with emulators(plan, result.log) as described, database(plan, folder) as url:
        config = project(folder, described, plan)
        Store(url).dispose()  # migrated once, before the first daemon
        secrets = {"SINK_TOKEN": described["webhook"]["token"],
                   "WP_PASSWORD": described["wordpress"]["password"],
                   "WEIBO_TOKEN": described["weibo"]["token"],
                   "WECHAT_SECRET": described["wechat"]["secret"]}
        env = {**os.environ, "PUBLISHER_DATABASE_URL": url, **secrets}
        env.pop("PUBLISHER_CONFIG", None)
        bot = Bot(config, env, result.log)
        filers: list[tuple[int, subprocess.Popen[bytes]]] = []
        for _ in range(plan.kills):
            before = bot.starts()
            daemon = bot.start()
            result.starts += 1
            if rng.random() < plan.startup_kill_chance:  # while it opens, migrates, catches up
                up = rng.uniform(0.2, 3.0)
            else:  # once it runs: sends in flight
                bot.wait_started(daemon, before, 90)
                up = rng.uniform(*plan.up_seconds)
            if rng.random() < plan.urgent_chance:
                at = rng.uniform(0, up)
                time.sleep(at)
                result.urgent_filed += 1
                filers.append((result.urgent_filed, bot.urgent(result.urgent_filed, plan.seed)))
                up -= at
            time.sleep(max(0.0, up))
            if daemon.poll() is not None:
                result.violate("unsettled", f"a daemon exited {daemon.returncode} by itself")
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(30)
            result.kills += 1
            time.sleep(rng.uniform(*plan.down_seconds))
            if result.kills % 10 == 0:
                say(f"  {result.kills} kills, {time.monotonic() - started:.0f} s")
        for number, filer in filers:
            if filer.wait(120) != 0:
                result.urgent_refused.append(f"urgent {number} exited {filer.returncode}")
        control = described["control"]
        requests.post(f"{control}/rate", json={"rate": 0.0}, timeout=10).raise_for_status()
        result.faults = requests.get(f"{control}/faults", timeout=10).json()
        store = Store(url, migrate=False)
        try:
            cut, stopped_at = _settle(plan, bot, store, result, say)
            count(plan, store, folder, requests.get(f"{control}/published", timeout=30).json(),
                   cut, stopped_at, result)
        finally:
            store.dispose()
    result.seconds = time.monotonic() - started
    for refused in result.urgent_refused:
        result.violate("lost", refused)
    logged = result.log.read_text(encoding="utf-8", errors="replace")
    for name, secret in secrets.items():  # the bot's and the CLI's output, faults and all
        if secret in logged or secret.replace(" ", "") in logged:
            result.violate("secret in log", f"{name} appears in {result.log}")
    return result


def _settle(plan: Plan, bot: Bot, store: Store, result: Result,
            say: Callable[[str], None]) -> tuple[datetime, datetime]:
    """Start the last daemon (no more faults) and stop it once every release made before it
    started has settled; returns when it started and when it was stopped."""
    before = bot.starts()
    daemon = bot.start()
    result.starts += 1
    try:
        if not bot.wait_started(daemon, before, 120):
            result.violate("unsettled", "the last daemon did not start")
        cut = datetime.now(UTC)
        def settled() -> bool:
            with store.read() as session:
                open_ = session.execute(
                    select(Delivery.id).join(Release, Release.id == Delivery.release_id)
                    .where(Release.created_at <= cut, Delivery.state.not_in(SETTLED))
                    .limit(1)).first()
            return open_ is None
        if not wait(settled, plan.settle_limit_seconds):
            say(f"  not settled after {plan.settle_limit_seconds:.0f} s")
        stopped_at = datetime.now(UTC)
        daemon.send_signal(signal.SIGTERM)
        if daemon.wait(60) != 0:
            result.violate("unsettled", f"the last daemon exited {daemon.returncode}")
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(30)
    return cut, stopped_at


def main(argv: list[str] | None = None) -> None:
    """Run one campaign, print its summary table; exit 1 on any violation."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.campaign")
    parser.add_argument("--seed", type=int, default=None, help="default: a new random seed")
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--dir", type=Path, default=None,
                        help="work folder (kept; default: a new one under var/campaign)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    folder = args.dir or ROOT / "var" / "campaign" / f"{args.database}-{seed}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    result = run(Plan(seed=seed, kills=args.kills, fault_rate=args.fault_rate,
                      database=args.database), folder)
    print(result.table(), flush=True)
    sys.exit(1 if result.violations else 0)


if __name__ == "__main__":
    main()
