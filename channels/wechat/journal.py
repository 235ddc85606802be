"""The adapter's own record per delivery key (draft, publish_id, msg_id), kept before polling."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class Journal:
    """One small JSON file per delivery key, replaced atomically; survives a crash."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def _path(self, key: str) -> Path:
        return self.folder / f"{_SAFE.sub('_', key)}.json"

    def load(self, key: str) -> dict[str, Any]:
        """What was recorded for ``key`` (empty when nothing)."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def update(self, key: str, **values: Any) -> dict[str, Any]:
        """Merge ``values`` into the record for ``key`` and write it durably."""
        with self._lock:
            data = {**self.load(key), **values}
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self._path(key)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            with tmp.open("w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(path)
            return data
