"""The shipped config and templates as the render tests use them: sample tables and contexts."""

from __future__ import annotations

from datetime import date
from typing import Any

import yaml

from publisher.config import Config
from publisher.period import period_of
from publisher.render import Renderer
from publisher.source import read_table
from tests.support.project import ROOT

TEMPLATES = ROOT / "templates"


def shipped_config() -> Config:
    """schedules.yaml validated by its models (without the cross-checks that import channels)."""
    raw = yaml.safe_load((ROOT / "schedules.yaml").read_text(encoding="utf-8"))
    return Config.model_validate(raw)


def context_for(config: Config, definition_id: str, tables: dict[str, list[dict[str, Any]]],
                renderer: Renderer, kind: str = "portal") -> dict[str, Any]:
    """The context the core builds for a scheduled release due on 2 December 2026."""
    definition = config.releases[definition_id]
    assert definition.source is not None
    period = period_of(date(2026, 12, 2), definition.source.period,
                       definition.source.period_offset)
    release: dict[str, Any] = {
        "key": f"{definition_id}@2026-12-02T10:00+08:00", "definition_id": definition_id,
        "issuing_organ": definition.issuing_organ, "organ_code": definition.organ_code,
        "subject_category": definition.subject_category, "column": definition.column,
        "column_name": config.columns[definition.column], "document_number": None,
        "index_number": f"{definition.organ_code}/2026-00001",
        "published_date": date(2026, 12, 2), "signed_date": date(2026, 12, 2), "urgent": False,
    }
    context: dict[str, Any] = {"release": release, "period": period.as_context(),
                               "tables": tables, "channel": {"name": f"{kind}-main", "kind": kind}}
    release["title"] = renderer.render_text(definition.title, context, "title")
    return context


def sample_tables(config: Config, definition_id: str) -> dict[str, list[dict[str, Any]]]:
    """The shipped sample rows of every table of a definition."""
    source = config.releases[definition_id].source
    assert source is not None
    return {name: read_table(ROOT / str(t.sample), config.schemas[t.table_schema], t.sheet)
            for name, t in source.tables.items()}
