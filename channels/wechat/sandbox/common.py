"""What the emulator's parts share: the errcode reply and WeChat-shaped ids."""

from __future__ import annotations

import secrets
from typing import Any

DAY = 86_400.0


class Reply(Exception):
    """Raised inside the emulator to answer with an errcode."""

    def __init__(self, errcode: int, errmsg: str, **extra: Any) -> None:
        super().__init__(errmsg)
        self.errcode, self.errmsg, self.extra = errcode, errmsg, extra


def rid() -> str:
    """The ``rid`` WeChat appends to errmsg: three groups of eight hex digits."""
    return "-".join(secrets.token_hex(4) for _ in range(3))


def urlsafe(n: int) -> str:
    """``n`` URL-safe characters, the shape of media and article ids."""
    return secrets.token_urlsafe(n)[:n]
