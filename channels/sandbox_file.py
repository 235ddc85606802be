"""An emulator's state on disk: one JSON file, replaced atomically on each change, read at start."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def save_state(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` so that a reader (or a restart) sees the old or the new file,
    never half of one: a temporary file beside it, flushed to disk, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    temp.replace(path)


def load_state(path: Path | None) -> dict[str, Any] | None:
    """The state saved at ``path``, or None when there is none yet; a file that is not an
    emulator's state is an error naming it (it is never silently replaced)."""
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: not a sandbox state file ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a sandbox state file (not a JSON object)")
    return data
