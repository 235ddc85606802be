"""Who this process is, and whether another holder (a process here or elsewhere) is alive."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

_HOST = socket.gethostname()
_ID = f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_id() -> str:
    """``host:pid:nonce`` for this process (new nonce per process, so a reused pid differs)."""
    if not _ID.startswith(f"{_HOST}:{os.getpid()}:"):  # forked child
        return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return _ID


def holder_dead(holder: str) -> bool:
    """True when ``holder`` is a process on this host that no longer runs.

    Holders on other hosts are never declared dead here; their leases expire instead.
    """
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    if int(pid_text) == os.getpid():
        return holder != holder_id()
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(int(pid_text))


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
