"""Tests of the portal's prepare: limits, required metadata, and the payload it returns."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from channels.base import Attachment, ContentRejected, Message, Payload
from channels.portal.adapter import PortalChannel, PortalSettings
from channels.portal.content import PageSpec

MessageFactory = Callable[..., Message]


def _rejection(portal: PortalChannel, message: Message) -> ContentRejected:
    with pytest.raises(ContentRejected) as caught:
        portal.prepare(message)
    return caught.value


def test_prepare_returns_a_json_payload_with_everything_send_needs(
    portal: PortalChannel, make_message: MessageFactory, tmp_path: Path
) -> None:
    """A valid message becomes a JSON-serialisable portal payload with its deterministic path."""
    table = tmp_path / "unqualified.csv"
    message = make_message(
        attachments=(Attachment("不合格产品信息.csv", "text/csv", table),),
        metadata={"document_number": "某市监〔2026〕12号"},
    )
    payload = portal.prepare(message)
    assert payload.kind == "portal"
    data = json.loads(json.dumps(payload.to_json()))["data"]
    assert data["path"] == "food-safety/food-safety-sampling-2026-w49.html"
    assert data["title"] == message.title
    assert data["body_html"] == message.body
    assert data["column_name"] == "食品安全抽检"
    assert data["metadata"]["document_number"] == "某市监〔2026〕12号"
    assert data["metadata"]["index_number"] == "MB0000123/2026-00049"
    assert data["attachments"] == [
        {"name": "不合格产品信息.csv", "content_type": "text/csv", "path": str(table)}
    ]
    assert data["summary"] == "本周共抽检食品 120 批次，不合格 2 批次。"
    assert PageSpec.from_payload(Payload.from_json(payload.to_json())).slug == (
        "food-safety-sampling-2026-w49"
    )


def test_prepare_writes_nothing(
    portal: PortalChannel, make_message: MessageFactory, tmp_path: Path
) -> None:
    """Prepare is pure: it creates no files."""
    portal.prepare(make_message())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("overrides", "field", "limit"),
    [
        ({"title": ""}, "title", "non-empty"),
        ({"title": "   "}, "title", "non-empty"),
        ({"title": "长" * 201}, "title", "200"),
        ({"title": "标题\x00"}, "title", "control"),
        ({"body": " "}, "body", "non-empty"),
        ({"body": "<p>" + "字" * (700 * 1024) + "</p>"}, "body", "2097152 bytes"),
        ({"body_format": "text"}, "body_format", "html"),
        ({"metadata": {"index_number": "MB0000123/2026-49"}}, "metadata.index_number", "9位"),
        ({"metadata": {"index_number": "mb0000123/2026-00049"}}, "metadata.index_number", "serial"),
        ({"metadata": {"published_date": "2026/12/02"}}, "metadata.published_date", "YYYY-MM-DD"),
        ({"metadata": {"signed_date": "2026-02-30"}}, "metadata.signed_date", "YYYY-MM-DD"),
        ({"metadata": {"slug": "../etc/passwd"}}, "metadata.slug", "a-z0-9"),
        ({"metadata": {"slug": "index"}}, "metadata.slug", "index"),
        ({"metadata": {"column": "Food Safety"}}, "metadata.column", "a-z0-9"),
        ({"metadata": {"issuing_organ": "机" * 201}}, "metadata.issuing_organ", "200"),
    ],
)
def test_prepare_rejects_content_naming_field_and_limit(
    portal: PortalChannel,
    make_message: MessageFactory,
    overrides: dict[str, Any],
    field: str,
    limit: str,
) -> None:
    """Each broken rule raises ContentRejected naming its field and its limit."""
    error = _rejection(portal, make_message(**overrides))
    assert error.field == field
    assert limit in error.limit
    assert error.code == "content_rejected"
    assert field in str(error)
    assert error.explanation_zh and error.explanation_en
    assert str(error).index(" / ") > 0  # zh-CN first, then English


@pytest.mark.parametrize(
    "key",
    ["issuing_organ", "subject_category", "index_number", "published_date", "column",
     "column_name", "slug"],
)
def test_prepare_rejects_missing_required_metadata(
    portal: PortalChannel, make_message: MessageFactory, key: str
) -> None:
    """Leaving out a required metadata field is rejected naming that field."""
    error = _rejection(portal, make_message(drop=(key,)))
    assert (error.field, error.limit) == (f"metadata.{key}", "required")


def test_prepare_rejects_blank_required_metadata(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """A required metadata field holding only spaces counts as missing."""
    error = _rejection(portal, make_message(metadata={"subject_category": "  "}))
    assert error.field == "metadata.subject_category"


def test_optional_metadata_may_be_absent(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """Without signed date, document number or summary the message still prepares."""
    payload = portal.prepare(make_message(drop=("signed_date",)))
    assert set(payload.data["metadata"]) == {
        "issuing_organ", "subject_category", "index_number", "published_date"
    }


@pytest.mark.parametrize("name", ["../secret.csv", ".hidden", "a\\b.csv", ""])
def test_prepare_rejects_attachment_names_that_are_paths(
    portal: PortalChannel, make_message: MessageFactory, tmp_path: Path, name: str
) -> None:
    """An attachment name that is not a plain file name is rejected naming the attachment."""
    error = _rejection(
        portal, make_message(attachments=(Attachment(name, "text/csv", tmp_path / "x.csv"),))
    )
    assert error.field == "attachments[0].name"


def test_settings_refuse_a_base_url_without_trailing_slash() -> None:
    """A base URL must be absolute http(s) and end with a slash."""
    with pytest.raises(ValueError, match="end with"):
        PortalSettings(site_name="站", site_dir="site", base_url="http://example.gov.cn/site")
    with pytest.raises(ValueError, match="absolute"):
        PortalSettings(site_name="站", site_dir="site", base_url="/site/")
