"""Maps channel kind names to their adapter classes."""

from __future__ import annotations

import importlib
from typing import Any

from channels.base import Channel

# kind -> "module:Class"; imported on first use so a kind's dependencies load only when used.
_KINDS: dict[str, str] = {
    "gazette": "channels.gazette.adapter:GazetteChannel",
    "memory": "channels.memory.adapter:MemoryChannel",
    "portal": "channels.portal.adapter:PortalChannel",
    "wechat": "channels.wechat.adapter:WechatChannel",
    "webhook": "channels.webhook.adapter:WebhookChannel",
    "wordpress": "channels.wordpress.adapter:WordPressChannel",
    "weibo": "channels.weibo.adapter:WeiboChannel",
}

def kinds() -> list[str]:
    """The kind names this build can publish through."""
    return sorted(_KINDS)


def channel_class(kind: str) -> type[Channel[Any]]:
    """The adapter class for ``kind``; KeyError when the kind is unknown."""
    module_name, _, class_name = _KINDS[kind].partition(":")
    cls: type[Channel[Any]] = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Channel)):
        raise TypeError(f"{_KINDS[kind]} is not a Channel")
    return cls
