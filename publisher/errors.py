"""Errors of the core that staff see, each with a zh-CN and an English sentence."""

from __future__ import annotations


class PublisherError(Exception):
    """Base of the core's own errors."""


class ReleaseHeld(PublisherError):
    """A release could not be rendered, prepared or fed with data: nothing was sent."""

    def __init__(self, key: str, problems: list[str]) -> None:
        self.key = key
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"发布已暂停，未向任何渠道发送 / release {key} held, nothing sent:\n{listing}")


class NotFound(PublisherError):
    """A release or delivery named by a staff member does not exist."""


class SchedulerBusy(PublisherError):
    """Another scheduler is active on this database."""
