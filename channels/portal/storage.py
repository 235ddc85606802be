"""Atomic file writes and the per-site lock that serialises concurrent writers."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

LOCK_NAME = "_manifest.lock"
TEMP_PREFIX = ".tmp-"

_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(site_dir: Path) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(site_dir.resolve(), threading.Lock())


@contextlib.contextmanager
def site_lock(site_dir: Path) -> Iterator[None]:
    """Hold the site: one thread of this process, then one process (``flock``), at a time."""
    with _thread_lock(site_dir):
        site_dir.mkdir(parents=True, exist_ok=True)
        with (site_dir / LOCK_NAME).open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_atomic(path: Path, fill: Callable[[BinaryIO], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=path.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
        temp.chmod(0o644)
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing: temp file alongside, fsync, rename."""

    def fill(handle: BinaryIO) -> None:
        handle.write(data)

    _replace_atomic(path, fill)


def copy_atomic(source: Path, path: Path) -> None:
    """Copy a file to ``path`` all or nothing (used for attachments)."""

    def fill(handle: BinaryIO) -> None:
        with source.open("rb") as original:
            shutil.copyfileobj(original, handle)

    _replace_atomic(path, fill)


def remove_tree(folder: Path) -> None:
    """Delete a folder and everything in it, if it exists."""
    if folder.is_dir():
        shutil.rmtree(folder)
