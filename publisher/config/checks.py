"""The ``checks:`` section of schedules.yaml: the lists of the content checks and their rules."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


PersonalKind = Literal["id_number", "mobile", "landline", "bank_card", "email"]
PERSONAL_KINDS: tuple[PersonalKind, ...] = ("id_number", "mobile", "landline", "bank_card", "email")


class PersonalDataConfig(_Model):
    """Personal data in any text or cell: which kinds are looked for, and what may stand."""

    kinds: list[PersonalKind] = Field(default_factory=lambda: list(PERSONAL_KINDS))
    # numbers and addresses the office publishes on purpose (its hotline, its mailbox)
    allowed_values: list[str] = Field(default_factory=list)


class LinksConfig(_Model):
    """Every link of a release is fetched (HEAD, then GET) on the allowed hosts only."""

    enabled: bool = False
    timeout_seconds: float = Field(3, gt=0, le=30)
    allowed_hosts: list[str] = Field(default_factory=list)  # and their subdomains
    at_preview: Literal["warn", "review", "block"] = "warn"
    at_due: Literal["warn", "review", "block"] = "block"


class FreshnessConfig(_Model):
    """How long a channel or a portal column may go without a publication (僵尸号 after 14 days)."""

    channel_days: int = Field(14, ge=1, le=3650)  # new-media accounts
    column_days: int = Field(14, ge=1, le=3650)  # news columns
    policy_column_days: int = Field(183, ge=1, le=3650)  # policy columns: six months
    policy_columns: list[str] = Field(default_factory=list)
    alert_days_before: int = Field(3, ge=0, le=60)
    channels: dict[str, int] = Field(default_factory=dict)  # per channel, in days
    columns: dict[str, int] = Field(default_factory=dict)  # per column, in days


class ChecksConfig(_Model):
    """Content checks run in the prepare step of every release and urgent post."""

    enabled: bool = True
    starter_lists: bool = True  # the shipped lists: serious wording errors, 涉密 marks
    wording: list[str] = Field(default_factory=list)  # CSV or YAML files, relative to the config
    sensitive: list[str] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)
    titles: list[str] = Field(default_factory=list)  # titles besides the built-in ones
    personal: PersonalDataConfig = PersonalDataConfig()
    links: LinksConfig = LinksConfig()
    freshness: FreshnessConfig = FreshnessConfig()


class DefinitionChecks(_Model):
    """A release definition's own allowances."""

    # "table.column" (or a column id of any table) whose personal data may be published,
    # e.g. the contact phone of a licensed business
    allow_personal: list[str] = Field(default_factory=list)
