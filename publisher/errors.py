"""Errors of the core that staff see, each with a zh-CN and an English sentence."""

from __future__ import annotations


class PublisherError(Exception):
    """Base of the core's own errors."""


class SchedulerBusy(PublisherError):
    """Another scheduler is active on this database."""
