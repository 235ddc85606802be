"""The WeChat emulator: a loopback HTTP server speaking the Official Account API (see wechat.md)."""

from __future__ import annotations

import argparse
import threading
from dataclasses import dataclass

from channels.wechat.sandbox.common import Reply
from channels.wechat.sandbox.server import Server
from channels.wechat.sandbox.state import Account, Fault

__all__ = ["Account", "Emulator", "Fault", "Reply", "configure", "main", "serve"]


@dataclass
class Emulator:
    """A running emulator: ``url``, its ``account``, and ``stop()``."""

    server: Server
    thread: threading.Thread

    @property
    def account(self) -> Account:
        return self.server.account

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(port: int = 0, account: Account | None = None) -> Emulator:
    """Start an emulator on 127.0.0.1 (port 0 = any free port) in a background thread."""
    server = Server(port, account or Account())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="wechat-sandbox", daemon=True)
    thread.start()
    return Emulator(server, thread)


def configure(argv: list[str] | None = None) -> tuple[Account, int]:
    """The account and port described by command-line arguments (see ``main``)."""
    parser = argparse.ArgumentParser(description="WeChat Official Account emulator (演练用)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--app-id", default="wx0000000000000000")
    parser.add_argument("--app-secret", default="sandbox-app-secret")
    parser.add_argument("--publish-polls", type=int, default=1)
    parser.add_argument("--fault", action="append", default=[], metavar="KIND[:API[:VALUE]]",
                        help="errcode:draft/add:-1, status:freepublish/get:503, slow::5, "
                             "drop:freepublish/submit, lost:message/mass/sendall")
    args = parser.parse_args(argv)
    account = Account(app_id=args.app_id, app_secret=args.app_secret,
                      publish_polls=args.publish_polls)
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
