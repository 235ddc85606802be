"""One shape for every kind's table of remote error codes: a row per code and what the bot does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from channels.base import ChannelError


@dataclass(frozen=True)
class ErrorRule:
    """One row of a kind's error table: the remote code, its meaning and what the bot does."""

    code: int
    name: str  # the platform's own text or meaning (English); match on the code, never on this
    decision: str  # what the delivery does next: the kind's own words (retry, wait, stop, ...)
    explanation_zh: str
    explanation_en: str
    error: type[ChannelError] | None = None  # None where the adapter turns the code into a result
    window_seconds: float | None = None  # rate limits and busy answers: how long until a retry
    field: str | None = None  # content refusals: the field at fault


def row(code: int, name: str, decision: str, zh: str, en: str,
        error: type[ChannelError] | None = None, window: float | None = None,
        field: str | None = None) -> ErrorRule:
    """A table row, positional as the tables read: code, name, decision, zh, en, error class."""
    return ErrorRule(code, name, decision, zh, en, error, window, field)


def by_code(rules: Iterable[ErrorRule]) -> Mapping[int, ErrorRule]:
    """The rows keyed by code; a code listed twice is a mistake in the table."""
    table: dict[int, ErrorRule] = {}
    for rule in rules:
        if rule.code in table:
            raise ValueError(f"error code {rule.code} is listed twice")
        table[rule.code] = rule
    return table
