"""Benchmark: urgent fan-out latency, open_incident to every channel's receipt, next to the critical path."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

if __package__ in (None, ""):  # run as a file (bench/urgent_latency.py): the project root first
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch_throughput import Check, database, logs_discarded
from channels.webhook.sandbox import Sink
from channels.webhook.sandbox import serve as serve_sink
from channels.wechat.sandbox import Account
from channels.wechat.sandbox import Emulator as WechatEmulator
from channels.wechat.sandbox import serve as serve_wechat
from channels.weibo.platform import PlatformConfig
from channels.weibo.sandbox import Emulator as WeiboEmulator
from channels.weibo.sandbox import serve as serve_weibo
from publisher import config as config_module
from publisher.app import App
from publisher.clock import SystemClock
from publisher.dispatch import POLL_FIRST_WAIT_SECONDS, POLL_MAX_WAIT_SECONDS, Dispatcher
from publisher.store import Store
from publisher.store.models import Attempt, Delivery
from publisher.urgent import UrgentPost, open_incident

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LATENCIES_MS = (0.0, 20.0, 50.0, 100.0)
TARGET_RATIO = 1.2
DRAIN_SECONDS = 60.0  # one post gives up waiting out retries after this
WECHAT_SECRET = "bench-wechat-secret"  # the emulator's own fake account
POLLS = ("message/mass/get", "freepublish/get")  # WeChat status looks, each after a dispatcher wait
PARTS = ("open_incident", "pickup", "remote", "poll_waits", "adapter", "bookkeeping")


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    """What one benchmark run does."""

    latencies_ms: tuple[float, ...] = DEFAULT_LATENCIES_MS
    posts: int = 3
    urgent_workers: int | None = None  # None: the product's default
    database_url: str | None = None
    json: bool = False


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/urgent_latency.py",
        description="Urgent posts to the portal, WeChat, Weibo and webhook emulators, each remote "
                    "call slowed by L; prints the time from open_incident to every channel's "
                    "receipt next to the critical path (the longest chain of remote calls one "
                    "channel needs, counted from the emulators' logs, × L).")
    parser.add_argument("--latency-ms", type=float, action="append", dest="latencies",
                        help="emulator latency per remote call, repeatable (default 0, 20, 50, "
                             "100)")
    parser.add_argument("--posts", type=int, default=3, help="measured posts per latency (3)")
    parser.add_argument("--urgent-workers", type=int, default=None,
                        help="the priority lane's workers (default: the product's default)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server URL (administrator); default: SQLite in a "
                             "temporary folder")
    parser.add_argument("--quick", action="store_true", help="one latency (20 ms), one post")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    latencies = tuple(args.latencies or ((20.0,) if args.quick else DEFAULT_LATENCIES_MS))
    if any(value < 0 for value in latencies) or args.posts < 1:
        parser.error("latencies must be ≥ 0 and --posts ≥ 1")
    return Options(latencies_ms=latencies, posts=1 if args.quick else args.posts,
                   urgent_workers=args.urgent_workers, database_url=args.database_url,
                   json=args.json)


# --------------------------------------------------------------------------- the project

CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
templates_dir: templates
{defaults}
columns: {{emergency: 突发事件}}
channels:
  portal-main:
    kind: portal
    settings: {{site_name: 基准门户, site_dir: site, base_url: "http://127.0.0.1:8180/"}}
  wechat-main:
    kind: wechat
    settings:
      app_id: wx0000000000000000
      app_secret: ${{WECHAT_APP_SECRET}}
      base_url: "{wechat}"
      portal_base_url: "http://127.0.0.1:8180/"
      cover_image: templates/_layouts/wechat-cover.jpg
  weibo-main:
    kind: weibo
    settings:
      access_token: ${{WEIBO_ACCESS_TOKEN}}
      base_url: "{weibo}"
      link_base_url: "http://127.0.0.1:8180/"
      rip: 127.0.0.1
      posts_per_hour: 1000
  hook:
    kind: webhook
    settings: {{url: "{hook}"}}
releases: {{}}
urgent:
  issuing_organ: 某市人民政府新闻办公室
  organ_code: "MB0000999"
  subject_category: 综合政务
  column: emergency
  channels: [portal-main, wechat-main, weibo-main, hook]
  sender: www.example.gov.cn
"""


@dataclass
class Remotes:
    """The emulators, with one knob for their latency and their request logs as marks."""

    wechat: WechatEmulator
    weibo: WeiboEmulator
    hook: Sink
    weibo_token: str

    def slow(self, seconds: float) -> None:
        """Every remote call of every emulator waits ``seconds`` before its answer."""
        with self.wechat.account.lock:
            self.wechat.account.latency_seconds = seconds
        with self.weibo.platform.lock:
            self.weibo.platform.config.latency_seconds = seconds
        with self.hook.state.lock:
            self.hook.state.delay_seconds = seconds

    def marks(self) -> dict[str, int]:
        """The length of each emulator's request log now."""
        with self.wechat.account.lock, self.weibo.platform.lock, self.hook.state.lock:
            return {"wechat-main": len(self.wechat.account.request_log),
                    "weibo-main": len(self.weibo.platform.calls),
                    "hook": len(self.hook.state.posts)}

    def calls_since(self, marks: Mapping[str, int]) -> dict[str, list[str]]:
        """Each channel's remote calls since ``marks``, in order (the portal makes none)."""
        with self.wechat.account.lock, self.weibo.platform.lock, self.hook.state.lock:
            return {
                "hook": ["POST"] * (len(self.hook.state.posts) - marks["hook"]),
                "portal-main": [],
                "wechat-main": [api for _at, api in
                                self.wechat.account.request_log[marks["wechat-main"]:]],
                "weibo-main": [path.removeprefix("/") for _at, _uid, path in
                               self.weibo.platform.calls[marks["weibo-main"]:]],
            }

    def stop(self) -> None:
        for running in (self.hook, self.weibo, self.wechat):
            running.stop()


def start_remotes() -> Remotes:
    wechat = serve_wechat(account=Account(app_secret=WECHAT_SECRET, publish_polls=0,
                                          mass_quota_per_day=1000))
    weibo = serve_weibo(config=PlatformConfig(posts_per_hour=1000, calls_per_hour=100_000))
    hook = serve_sink()
    return Remotes(wechat, weibo, hook, weibo.platform.issue_token().value)


def open_app(folder: Path, remotes: Remotes, options: Options, db_url: str) -> App:
    shutil.copytree(ROOT / "templates", folder / "templates")
    (folder / "inbox").mkdir()
    workers = options.urgent_workers
    config = folder / "schedules.yaml"
    config.write_text(CONFIG.format(
        defaults=f"defaults: {{urgent_workers: {workers}}}" if workers else "",
        wechat=remotes.wechat.url, weibo=remotes.weibo.url, hook=remotes.hook.url),
        encoding="utf-8")
    return App(loaded=config_module.load(config), store=Store(db_url), clock=SystemClock(),
               environ={"WECHAT_APP_SECRET": WECHAT_SECRET,
                        "WEIBO_ACCESS_TOKEN": remotes.weibo_token})


# --------------------------------------------------------------------------- one post


def poll_wait_seconds(polls: int) -> float:
    """What the dispatcher sleeps before ``polls`` status looks of an urgent delivery."""
    wait, total = POLL_FIRST_WAIT_SECONDS[True], 0.0
    for _ in range(polls):
        total += wait
        wait = min(wait * 2, POLL_MAX_WAIT_SECONDS[True])
    return total


@dataclass
class Post:
    """One urgent post: per channel its remote calls and its times from the trigger."""

    latency_s: float
    open_s: float  # open_incident itself (render, prepare, one transaction)
    calls: dict[str, list[str]]
    claimed_s: dict[str, float]  # trigger -> the delivery claimed (waiting for a lane worker)
    published_s: dict[str, float]  # trigger -> the delivery published (the receipt stored)
    attempt_s: dict[str, float]  # the attempt: the channel's send and status looks, with waits

    @property
    def measured_s(self) -> float:
        return max(self.published_s.values(), default=0.0)

    @property
    def longest_chain(self) -> tuple[str, int]:
        channel = max(sorted(self.calls), key=lambda name: len(self.calls[name]))
        return channel, len(self.calls[channel])

    @property
    def critical_s(self) -> float:
        return self.longest_chain[1] * self.latency_s

    @property
    def slowest(self) -> str:
        """The channel whose receipt came last ("" when none came: the checks say why)."""
        return max(sorted(self.published_s), key=lambda name: self.published_s[name],
                   default="")

    def parts(self) -> dict[str, float]:
        """The slowest channel's time split into parts that add up to ``measured_s``."""
        name = self.slowest
        calls = self.calls.get(name, [])
        remote = len(calls) * self.latency_s
        poll = poll_wait_seconds(sum(api in POLLS for api in calls))
        attempt = self.attempt_s.get(name, 0.0)
        claimed = self.claimed_s.get(name, 0.0)
        return {
            "open_incident": self.open_s,  # render, prepare, one transaction
            "pickup": claimed - self.open_s,  # run_once, a lane worker free, the claim's clock
            "remote": remote,  # its chain of calls × L
            "poll_waits": poll,  # the dispatcher's sleeps before status looks
            "adapter": attempt - remote - poll,  # the channel's own work in the attempt
            "bookkeeping": self.published_s.get(name, 0.0) - claimed - attempt,  # claim, finish
        }


def _next_second() -> None:
    """An incident's key counts seconds: start each post in a second of its own."""
    time.sleep(1.0 - time.time() % 1.0 + 0.005)


def send_post(app: App, remotes: Remotes, number: int, latency_s: float, check: Check) -> Post:
    """Open an incident and drain it as ``publisher urgent`` does; read the times and calls."""
    _next_second()
    marks = remotes.marks()
    post = UrgentPost(title=f"某高架桥发生垮塌（基准第{number}次）",
                      facts=f"今日9时{number % 60}分，某高架桥第{number}段桥面垮塌，现场已封闭。",
                      area="某区某高架桥", severity="较大", instruction="请绕行。")
    trigger = app.clock.now()
    started = time.perf_counter()
    outcome = open_incident(app, post, actor="bench")
    open_s = time.perf_counter() - started
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain(outcome.release_id, until=trigger + timedelta(seconds=DRAIN_SECONDS))
    finally:
        dispatcher.shutdown()
    with app.store.read() as session:
        rows = list(session.execute(select(Delivery).where(
            Delivery.release_id == outcome.release_id)).scalars())
        attempts = {channel: duration for channel, duration in session.execute(
            select(Delivery.channel, Attempt.duration_ms).join(
                Attempt, Attempt.delivery_id == Delivery.id).where(
                Delivery.release_id == outcome.release_id))}
    calls = remotes.calls_since(marks)
    result = Post(latency_s, open_s, calls,
                  {d.channel: (d.claimed_at - trigger).total_seconds() for d in rows
                   if d.claimed_at is not None},
                  {d.channel: (d.published_at - trigger).total_seconds() for d in rows
                   if d.published_at is not None},
                  {channel: duration / 1000 for channel, duration in attempts.items()})
    _check_post(check, number, outcome.channels, result, rows)
    return result


def _check_post(check: Check, number: int, channels: tuple[str, ...], post: Post,
                rows: list[Delivery]) -> None:
    label = f"post {number}"
    check.expect(sorted(channels) == sorted(post.calls),
                 f"{label}: channels {channels} are not the emulated ones {sorted(post.calls)}")
    for d in rows:
        check.expect(d.urgent and d.state == "published" and d.attempts == 1,
                     f"{label}: {d.channel} ended {d.state} after {d.attempts} attempt(s)")
    wechat = post.calls.get("wechat-main", [])
    check.expect(wechat.count("message/mass/sendall") == 1,
                 f"{label}: WeChat saw {wechat.count('message/mass/sendall')} mass sends, not 1")
    weibo = post.calls.get("weibo-main", [])
    check.expect(weibo.count("2/statuses/share.json") == 1,
                 f"{label}: Weibo saw {weibo.count('2/statuses/share.json')} shares, not 1")
    check.expect(len(post.calls.get("hook", [])) == 1,
                 f"{label}: the webhook sink saw {len(post.calls.get('hook', []))} POSTs, not 1")


# --------------------------------------------------------------------------- the run


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def summarise(latency_ms: float, posts: list[Post]) -> dict[str, Any]:
    """The figures of one latency: medians over its posts, and each channel's chain."""
    ratios = [p.measured_s / p.critical_s for p in posts if p.critical_s > 0]
    channel, calls = posts[-1].longest_chain
    per_channel = {}
    for name in sorted(posts[-1].calls):
        per_channel[name] = {
            "calls": posts[-1].calls[name],
            "chain_ms": _ms(len(posts[-1].calls[name]) * posts[-1].latency_s),
            "to_claimed_ms": _ms(statistics.median(p.claimed_s.get(name, 0.0) for p in posts)),
            "attempt_ms": _ms(statistics.median(p.attempt_s.get(name, 0.0) for p in posts)),
            "to_published_ms": _ms(statistics.median(p.published_s.get(name, 0.0)
                                                     for p in posts)),
        }
    measured = statistics.median(p.measured_s for p in posts)
    critical = statistics.median(p.critical_s for p in posts)
    parts = {name: _ms(statistics.median(p.parts()[name] for p in posts))
             for name in posts[-1].parts()}
    return {
        "latency_ms": latency_ms,
        "posts": len(posts),
        "critical_path_ms": _ms(critical),
        "critical_channel": channel,
        "critical_calls": calls,
        "measured_ms": _ms(measured),
        "measured_min_ms": _ms(min(p.measured_s for p in posts)),
        "measured_max_ms": _ms(max(p.measured_s for p in posts)),
        "ratio": round(statistics.median(ratios), 3) if ratios else None,
        "ratio_min": round(min(ratios), 3) if ratios else None,
        "ratio_max": round(max(ratios), 3) if ratios else None,
        "slowest_channel": posts[-1].slowest,
        "slowest_parts_ms": parts,
        "channels": per_channel,
    }


@contextmanager
def _remotes() -> Iterator[Remotes]:
    remotes = start_remotes()
    try:
        yield remotes
    finally:
        remotes.stop()


def run(options: Options) -> dict[str, Any]:
    """A warm-up post, then ``posts`` measured posts per latency; returns the figures."""
    check = Check()
    load_before = os.getloadavg()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-urgent-") as temp, logs_discarded(), \
            _remotes() as remotes, database(options.database_url, Path(temp), "urgent") as db_url:
        app = open_app(Path(temp) / "project", remotes, options, db_url)
        try:
            number = 0
            send_post(app, remotes, number, 0.0, check)  # warm-up: token, caches, first compiles
            for latency_ms in options.latencies_ms:
                remotes.slow(latency_ms / 1000)
                posts = []
                for _ in range(options.posts):
                    number += 1
                    posts.append(send_post(app, remotes, number, latency_ms / 1000, check))
                rounds.append(summarise(latency_ms, posts))
            urgent_workers = app.loaded.config.defaults.urgent_workers
            channels = list(app.loaded.config.urgent.channels) if app.loaded.config.urgent \
                else []
        finally:
            app.close()
    for figures in rounds:
        check.expect(figures["latency_ms"] == 0 or figures["critical_path_ms"] > 0,
                     f"L={figures['latency_ms']} ms: no remote call was counted")
    return {
        "ok": not check.problems,
        "problems": check.problems,
        "database": "PostgreSQL" if options.database_url else "SQLite",
        "urgent_workers": urgent_workers,
        "channels": channels,
        "posts_per_latency": options.posts,
        "target_ratio": TARGET_RATIO,
        "latencies": rounds,
        "cpus": os.cpu_count(),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }


def table(result: Mapping[str, Any]) -> str:
    """The figures as a small text table, with each channel's chain at the largest latency."""
    load = result["load_average_before_after"]
    lines = [
        f"urgent fan-out to {len(result['channels'])} channels ({', '.join(result['channels'])}), "
        f"{result['urgent_workers']} urgent workers, {result['database']}, "
        f"{result['posts_per_latency']} post(s) per latency (median shown), "
        f"{result['cpus']} CPUs, load average {load[0]} → {load[1]}",
        "",
        f"{'':>45}the slowest channel's time, ms:",
        f"{'L ms':>6}{'critical ms':>12}{'measured ms':>13}{'ratio':>7}  "
        + "".join(f"{name:>13}" for name in PARTS) + "   longest chain",
    ]
    for r in result["latencies"]:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        parts = r["slowest_parts_ms"]
        lines.append(
            f"{r['latency_ms']:>6.0f}{r['critical_path_ms']:>12.1f}{r['measured_ms']:>13.1f}"
            f"{ratio:>7}  " + "".join(f"{parts[name]:>13.1f}" for name in PARTS)
            + f"   {r['critical_channel']}: {r['critical_calls']} calls"
            + ("" if r["slowest_channel"] == r["critical_channel"]
               else f" (slowest: {r['slowest_channel']})"))
    if result["latencies"]:
        last = result["latencies"][-1]
        lines += ["", f"per channel at L = {last['latency_ms']:.0f} ms, median ms from the trigger: "
                      "claimed (a lane worker took it), the attempt (send + status looks), "
                      "published; then its remote calls",
                  f"  {'channel':<12}{'claimed':>8}{'attempt':>9}{'published':>10}"]
        for name, c in last["channels"].items():
            lines.append(f"  {name:<12}{c['to_claimed_ms']:>8.1f}{c['attempt_ms']:>9.1f}"
                         f"{c['to_published_ms']:>10.1f}   {len(c['calls'])} × L = "
                         f"{c['chain_ms']:.0f}: {', '.join(c['calls']) or '(no remote call)'}")
    lines += ["", f"target: measured / critical path ≤ {result['target_ratio']} "
                  "(ratio '-' where L = 0: no remote time to compare with)",
              "checks: " + ("every urgent delivery published once on every channel"
                            if result["ok"] else "FAILED")]
    lines += [f"  - {problem}" for problem in result["problems"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every post landed once everywhere, 1 otherwise (never for a
    missed target)."""
    options = parse_args(argv)
    result = run(options)
    print(json.dumps(result, ensure_ascii=False) if options.json else table(result))
    if not result["ok"]:
        print("benchmark checks failed:\n" + "\n".join(result["problems"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
