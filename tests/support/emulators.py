"""Every HTTP emulator behind its own fault proxy, in one process that outlives the bot.

``python -m tests.support.emulators --seed 7 --fault-rate 0.2 --held-seconds 5`` starts the
webhook sink, WordPress, Weibo and WeChat emulators on loopback, each behind a fault proxy
(tests/support/fault_proxy.py) that hits ``--fault-rate`` of the requests with one of its
faults, chosen by a seeded random generator (delay and late_answer hold ``--held-seconds``,
longer than the bot's timeout). It prints one JSON line: each kind's proxy URL (point the
bot there), its emulator's own URL, the credentials the emulators accept, and a control URL:

- ``GET /published``: what each emulator published, each item with its text (the title or
  post text, which a campaign makes unique per release) and whether it is still live;
- ``GET /faults``: per kind, how many requests each fault hit (and how many were forwarded);
- ``POST /rate`` ``{"rate": 0.0}``: change the share of faulted requests from now on.

A campaign (tests/support/campaign.py) counts publications here, after the bot is gone.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from channels.loopback import Loopback, start
from channels.webhook.sandbox import Sink
from channels.webhook.sandbox import serve as serve_sink
from channels.wechat.sandbox import Account
from channels.wechat.sandbox import Emulator as WechatEmulator
from channels.wechat.sandbox import serve as serve_wechat
from channels.weibo.platform import PlatformConfig
from channels.weibo.sandbox import Emulator as WeiboEmulator
from channels.weibo.sandbox import serve as serve_weibo
from channels.wordpress.adapter import TRASH
from channels.wordpress.sandbox import Emulator as WordPressEmulator
from channels.wordpress.sandbox import serve as serve_wordpress
from tests.support import fault_proxy
from tests.support.fault_proxy import FAULTS, FaultProxy, Rule

KINDS = ("webhook", "wordpress", "weibo", "wechat")
WEBHOOK_TOKEN = "campaign-sink-token"  # the loopback emulators' own credentials
WORDPRESS_USER = "publisher-bot"
WORDPRESS_PASSWORD = "camp aign pass word"
WEIBO_TOKEN = "2.00campaign-weibo-token"
WECHAT_APP_ID = "wx0000000000000000"
WECHAT_SECRET = "campaign-wechat-secret"


def fault_rules(rate: float, held_seconds: float) -> list[Rule]:
    """One rule per fault, for every request, so that ``rate`` of all requests are hit, each
    fault equally often (the proxy tries the rules in order: each chance is conditional on
    the ones before having missed)."""
    if rate <= 0:
        return []
    share = rate / len(FAULTS)
    rules = []
    for index, fault in enumerate(FAULTS):
        chance = min(1.0, share / (1.0 - index * share))
        rules.append(Rule(fault, times=0, chance=chance, seconds=held_seconds, status=502))
    return rules


@dataclass
class Emulators:
    """The running emulators and their proxies (one per kind)."""

    sink: Sink
    wordpress: WordPressEmulator
    weibo: WeiboEmulator
    wechat: WechatEmulator
    proxies: dict[str, FaultProxy]
    held_seconds: float
    rate: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set_rate(self, rate: float) -> None:
        """Fault ``rate`` of the requests from now on (0: none), on every proxy."""
        with self.lock:
            self.rate = rate
            for proxy in self.proxies.values():
                with proxy.state.lock:
                    proxy.state.rules[:] = fault_rules(rate, self.held_seconds)

    def published(self) -> dict[str, list[dict[str, Any]]]:
        """Each emulator's publications: ``text`` (what a campaign matches on), ``live``,
        and where it was made (``via``: a WeChat article or mass send)."""
        out: dict[str, list[dict[str, Any]]] = {}
        with self.sink.state.lock:
            out["webhook"] = [{"text": receipt_title, "key": key, "live": True}
                              for key, receipt_title in _sink_titles(self.sink)]
        wp = self.wordpress.state
        with wp.lock:
            out["wordpress"] = [{"text": _rendered(post.get("title")), "id": post_id,
                                 "slug": post.get("slug"),
                                 "live": post.get("status") != TRASH}
                                for post_id, post in wp.posts.items()]
        platform = self.weibo.platform
        with platform.lock:
            out["weibo"] = [{"text": post["text"], "id": post.get("idstr"),
                             "live": not post["deleted"]} for post in platform.posts]
        account = self.wechat.account
        with account.lock:
            items = [{"text": item.get("title", ""), "via": "publish", "url": item.get("url"),
                      "live": not item.get("is_deleted")}
                     for record in account.articles.values() for item in record["items"]]
            items += [{"text": article.get("title", ""), "via": "mass",
                       "key": send.get("clientmsgid"), "live": send.get("status") != "DELETE"}
                      for send in account.mass_sends for article in send["articles"][:1]]
        out["wechat"] = items
        return out

    def faults(self) -> dict[str, dict[str, int]]:
        """Per kind: requests seen, and how many each fault hit."""
        report: dict[str, dict[str, int]] = {}
        for kind, proxy in self.proxies.items():
            with proxy.state.lock:
                counts = Counter(s.fault or "none" for s in proxy.state.seen)
            report[kind] = {"requests": sum(counts.values()),
                            **{fault: counts.get(fault, 0) for fault in FAULTS}}
        return report

    def describe(self) -> dict[str, Any]:
        """What a bot's configuration needs: URLs and credentials."""
        return {
            "webhook": {"url": self.proxies["webhook"].url, "emulator": self.sink.url,
                        "token": WEBHOOK_TOKEN},
            "wordpress": {"url": self.proxies["wordpress"].url, "emulator": self.wordpress.url,
                          "username": WORDPRESS_USER, "password": WORDPRESS_PASSWORD},
            "weibo": {"url": self.proxies["weibo"].url, "emulator": self.weibo.url,
                      "token": WEIBO_TOKEN},
            "wechat": {"url": self.proxies["wechat"].url, "emulator": self.wechat.url,
                       "app_id": WECHAT_APP_ID, "secret": WECHAT_SECRET},
        }

    def stop(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()
        for emulator in (self.sink, self.wordpress, self.weibo, self.wechat):
            emulator.stop()


def _rendered(title: Any) -> str:
    if isinstance(title, dict):
        return str(title.get("raw") or title.get("rendered") or "")
    return str(title or "")


def _sink_titles(sink: Sink) -> list[tuple[str, str]]:
    """(key, title) of every key the sink accepted (called under its lock)."""
    titles: dict[str, str] = {}
    for post in sink.state.posts:
        if post.get("key") in sink.state.accepted:
            titles.setdefault(post["key"], str(post.get("title") or ""))
    return [(key, titles.get(key, "")) for key in sink.state.accepted]


def serve(*, seed: int = 0, rate: float = 0.0, held_seconds: float = 5.0) -> Emulators:
    """Start every emulator and its proxy on 127.0.0.1 (free ports), faulting ``rate``."""
    sink = serve_sink()
    wordpress = serve_wordpress()
    wordpress.state.add_user(WORDPRESS_USER, WORDPRESS_PASSWORD)
    weibo = serve_weibo(config=PlatformConfig(safe_domain="127.0.0.1", posts_per_hour=1000,
                                              calls_per_hour=1_000_000))
    weibo.platform.issue_token(value=WEIBO_TOKEN)
    wechat = serve_wechat(account=Account(app_id=WECHAT_APP_ID, app_secret=WECHAT_SECRET,
                                          publish_polls=0, publish_seconds=1.0,
                                          mass_quota_per_day=100_000))
    upstreams = {"webhook": sink.url, "wordpress": wordpress.url, "weibo": weibo.url,
                 "wechat": wechat.url}
    seeds = random.Random(seed)
    proxies = {kind: fault_proxy.serve(url, seed=seeds.randrange(2**32))
               for kind, url in upstreams.items()}
    emulators = Emulators(sink, wordpress, weibo, wechat, proxies, held_seconds)
    emulators.set_rate(rate)
    return emulators


class _Control(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server: _ControlServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        emulators = self.server.emulators
        if self.path == "/published":
            self._reply(200, emulators.published())
        elif self.path == "/faults":
            self._reply(200, emulators.faults())
        else:
            self._reply(200, emulators.describe())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/rate":
            self._reply(404, {"message": "not found"})
            return
        try:
            rate = float(json.loads(body or b"{}")["rate"])
        except (KeyError, TypeError, ValueError) as exc:
            self._reply(400, {"message": str(exc)})
            return
        self.server.emulators.set_rate(rate)
        self._reply(200, {"rate": rate})


class _ControlServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, emulators: Emulators) -> None:
        super().__init__(("127.0.0.1", port), _Control)
        self.emulators = emulators


def main(argv: list[str] | None = None) -> None:
    """Serve until killed; the first line on stdout is the JSON description."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.emulators")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--held-seconds", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=0, help="the control port (0: any)")
    args = parser.parse_args(argv)
    emulators = serve(seed=args.seed, rate=args.fault_rate, held_seconds=args.held_seconds)
    server = _ControlServer(args.port, emulators)
    control = Loopback(server, start(server, "emulators-control"))
    print(json.dumps({**emulators.describe(), "control": control.url}), flush=True)
    try:
        control.thread.join()
    except KeyboardInterrupt:
        control.stop()
        emulators.stop()


if __name__ == "__main__":
    main()
