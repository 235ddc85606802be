"""A loopback WordPress REST API emulator: posts, categories, trash, Application Passwords."""

from __future__ import annotations

from pathlib import Path

from channels.loopback import Loopback, start
from channels.wordpress.sandbox.handler import Server
from channels.wordpress.sandbox.state import WordPressState

__all__ = ["Emulator", "WordPressState", "main", "serve"]


class Emulator(Loopback[Server]):
    """A running emulator: ``url`` (the site root), its ``state``, and ``stop()``."""

    @property
    def state(self) -> WordPressState:
        return self.server.state

    @property
    def url(self) -> str:
        return f"{self.origin}/"

    def stop(self) -> None:
        self.state.released.set()  # answers held back by a "hold" fault go out first
        super().stop()


def serve(port: int = 0, state: WordPressState | None = None,
          host: str = "127.0.0.1") -> Emulator:
    """Start the emulator on ``host`` (port 0 = any free port) in a background thread."""
    state = state or WordPressState()
    state.load()
    server = Server(port, state, host)
    return Emulator(server, start(server, "wordpress-sandbox"))


def main() -> None:
    """``python -m channels.wordpress.sandbox PORT USER PASSWORD [STATE_FILE]``, in the foreground."""
    import sys

    args = sys.argv[1:]
    state = WordPressState(state_file=Path(args[3]) if len(args) > 3 else None)
    if len(args) > 2:
        state.add_user(args[1], args[2])
    emulator = serve(int(args[0]) if args else 0, state)
    print(emulator.url, flush=True)
    try:
        emulator.thread.join()
    except KeyboardInterrupt:
        emulator.stop()
