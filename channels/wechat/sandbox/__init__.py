"""The WeChat emulator: a loopback HTTP server speaking the Official Account API (see wechat.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from channels.loopback import Loopback, start
from channels.wechat.sandbox.common import Reply
from channels.wechat.sandbox.server import Server
from channels.wechat.sandbox.state import Account, Fault

__all__ = ["Account", "Emulator", "Fault", "Reply", "configure", "main", "serve"]


class Emulator(Loopback[Server]):
    """A running emulator: ``url``, its ``account``, and ``stop()``."""

    @property
    def account(self) -> Account:
        return self.server.account


def serve(port: int = 0, account: Account | None = None, host: str = "127.0.0.1") -> Emulator:
    """Start an emulator on ``host`` (port 0 = any free port) in a background thread; an
    account with a ``state_file`` first reads what it held before."""
    account = account or Account()
    account.load()
    server = Server(port, account, host)
    return Emulator(server, start(server, "wechat-sandbox"))


def configure(argv: list[str] | None = None) -> tuple[Account, int]:
    """The account and port described by command-line arguments (see ``main``)."""
    parser = argparse.ArgumentParser(description="WeChat Official Account emulator (演练用)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--app-id", default="wx0000000000000000")
    parser.add_argument("--app-secret", default="sandbox-app-secret")
    parser.add_argument("--publish-polls", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="wait this long before handling each request")
    parser.add_argument("--state", type=Path, default=None,
                        help="keep what the account holds in this JSON file (across restarts)")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND[:API[:VALUE]]",
                        help="errcode:draft/add:-1, status:freepublish/get:503, slow::5, "
                             "drop:freepublish/submit, lost:message/mass/sendall")
    args = parser.parse_args(argv)
    account = Account(app_id=args.app_id, app_secret=args.app_secret,
                      publish_polls=args.publish_polls,
                      latency_seconds=args.latency_ms / 1000, state_file=args.state)
    for spec in args.fault:
        kind, _, rest = spec.partition(":")
        api, _, value = rest.partition(":")
        options: dict[str, float | int] = {}
        if value and kind == "errcode":
            options["errcode"] = int(value)
        elif value and kind == "status":
            options["status"] = int(value)
        elif value and kind == "slow":
            options["seconds"] = float(value)
        account.inject(kind, api, **options)
    return account, args.port


def main(argv: list[str] | None = None) -> None:
    """``python -m channels.wechat.sandbox [--port N] [--fault KIND[:API[:VALUE]]] …``."""
    account, port = configure(argv)
    emulator = serve(port, account)
    print(emulator.url, flush=True)
    try:
        emulator.thread.join()
    except KeyboardInterrupt:
        emulator.stop()
