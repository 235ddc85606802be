"""The Weibo adapter against its emulator: prepare, send, duplicates, comments, deletes, checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr, ValidationError

from channels.base import (
    AlreadyPublished,
    Attachment,
    ConfigurationError,
    ContentRejected,
    NotSupported,
    OutcomeUnknown,
    PermanentChannelError,
    Receipt,
    TransientChannelError,
    idempotency_key,
)
from channels.weibo.adapter import WeiboChannel, WeiboSettings
from channels.weibo.errors import AuthorisationGone
from channels.weibo.mark import mark_for, with_mark
from channels.weibo.platform import Fault
from tests.support.weibo import LINK_BASE, Rig, message, start_rig

PAGE = f"{LINK_BASE}food-safety/food-safety-sampling-2026-w49.html"
# the mark of weibo-main's delivery of the week-49 release, which prepare puts at the end
MARK = mark_for(idempotency_key("food-safety-sampling@2026-W49", "weibo-main"))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from start_rig(tmp_path)


# --------------------------------------------------------------------------- settings


def test_settings_defaults_and_secrets() -> None:
    """Defaults follow the issue (140, 30 an hour, api.weibo.com); token and app secret are secret."""
    settings = WeiboSettings(access_token=SecretStr("t0k3n-abcdef"),
                             link_base_url="https://www.gov.example.cn", rip="211.156.0.1")
    assert (settings.limit, settings.posts_per_hour) == (140, 30)
    assert settings.base_url == "https://api.weibo.com"
    assert settings.link_base_url == "https://www.gov.example.cn/"
    assert settings.domain == "www.gov.example.cn"
    assert set(WeiboSettings.secret_fields()) == {"access_token", "app_secret"}
    assert "t0k3n-abcdef" not in repr(settings)


def test_link_outside_the_safe_domain_is_refused() -> None:
    """A portal link outside the safe domain is a settings error (Weibo would answer 10017)."""
    with pytest.raises(ValidationError, match="safe_domain"):
        WeiboSettings(link_base_url="http://portal.other.cn/", safe_domain="gov.example.cn",
                      rip="211.156.0.1")
    with pytest.raises(ValidationError):
        WeiboSettings(link_base_url="http://www.gov.example.cn/", rip="not-an-ip")


# --------------------------------------------------------------------------- prepare


def test_golden_payload(rig: Rig) -> None:
    """The payload is the template text, the portal page link and the delivery's mark, each
    after a space, and the flags."""
    payload = rig.channel().prepare(message())
    assert payload.to_json() == {"kind": "weibo", "data": {
        "status": f"本周共抽检食品120批次，不合格2批次。 {PAGE} {MARK}",
        "link": PAGE, "urgent": False, "release": "food-safety-sampling@2026-W49"}}


def test_golden_payload_with_picture(rig: Rig, tmp_path: Path) -> None:
    """The first JPEG/GIF/PNG attachment becomes the single picture; other files are left out."""
    (tmp_path / "cover.png").write_bytes(PNG)
    (tmp_path / "t.xlsx").write_bytes(b"x")
    attachments = (Attachment("t.xlsx", "application/vnd.ms-excel", tmp_path / "t.xlsx"),
                   Attachment("cover.png", "image/png", tmp_path / "cover.png"))
    payload = rig.channel().prepare(message(attachments=attachments))
    assert payload.data["picture"] == {"name": "cover.png", "content_type": "image/png",
                                       "path": str(tmp_path / "cover.png")}


def test_lines_are_trimmed_and_blank_lines_dropped(rig: Rig) -> None:
    """Template whitespace does not reach the post: lines trimmed, blank lines dropped."""
    payload = rig.channel().prepare(message("  第一行  \n\n\n  第二行\n"))
    assert payload.data["status"] == f"第一行\n第二行 {PAGE} {MARK}"


def test_existing_safe_link_is_not_doubled(rig: Rig) -> None:
    """A text that already carries a safe-domain link gets no second one."""
    body = "见 http://gov.example.cn/x.html 详情"
    assert rig.channel().prepare(message(body)).data["status"] == f"{body} {MARK}"


@pytest.mark.parametrize(("chinese", "over"), [(123, 0), (124, 1), (129, 6)])
def test_over_the_limit_says_by_how_much(rig: Rig, chinese: int, over: int) -> None:
    """With the link (10 characters), the mark (6) and their spaces, the text may hold 123."""
    channel = rig.channel()
    if not over:
        assert channel.counter.length(channel.prepare(message("详" * chinese)).data["status"]) \
            == 140
        return
    with pytest.raises(ContentRejected) as caught:
        channel.prepare(message("详" * chinese))
    assert caught.value.field == "status"
    assert f"超出 {over} 字" in str(caught.value) and f"{over} characters over" in str(caught.value)


def test_configured_limit_applies(rig: Rig) -> None:
    """A lower configured limit refuses what the default allows."""
    with pytest.raises(ContentRejected, match="超出 47 字"):
        rig.channel(limit=100).prepare(message("详" * 130))


@pytest.mark.parametrize(("body", "field"), [("   ", "status"), ("#食品安全# 抽检", "status")])
def test_empty_and_topic_texts_are_refused(rig: Rig, body: str, field: str) -> None:
    """An empty text and a #topic# (share.json forbids them) are refused before sending."""
    with pytest.raises(ContentRejected) as caught:
        rig.channel().prepare(message(body))
    assert caught.value.field == field


def test_missing_slug_is_refused(rig: Rig) -> None:
    """Without the slug there is no portal link, and the refusal names the metadata field."""
    with pytest.raises(ContentRejected) as caught:
        rig.channel().prepare(message(metadata={"column": "food-safety"}))
    assert caught.value.field == "metadata.slug"


def test_picture_over_five_megabytes_is_refused(rig: Rig, tmp_path: Path) -> None:
    """A picture over 5 MB is refused in prepare, naming the pic field."""
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + bytes(5 * 1024 * 1024))
    with pytest.raises(ContentRejected) as caught:
        rig.channel().prepare(message(attachments=(Attachment("big.jpg", "image/jpeg", big),)))
    assert caught.value.field == "pic"


# --------------------------------------------------------------------------- send


def test_send_keys_on_idstr(rig: Rig) -> None:
    """The receipt's id is ``idstr`` (the number ``id`` is rounded), and rip travels with it."""
    receipt = rig.channel().send(rig.channel().prepare(message()), "k")
    post = rig.emulator.platform.posts[0]
    assert receipt.remote_id == post["idstr"] and not receipt.remote_id.endswith("00000")
    assert receipt.url == f"https://m.weibo.cn/status/{post['idstr']}"
    assert receipt.published_at == rig.clock()
    assert post["rip"] == "211.156.0.1"


def test_send_with_picture_is_multipart(rig: Rig, tmp_path: Path) -> None:
    """A payload with a picture posts it as multipart, and the emulator keeps its bytes count."""
    (tmp_path / "cover.png").write_bytes(PNG)
    channel = rig.channel()
    payload = channel.prepare(message(attachments=(
        Attachment("cover.png", "image/png", tmp_path / "cover.png"),)))
    channel.send(payload, "k")
    assert rig.emulator.platform.posts[0]["picture_bytes"] == len(PNG)


def test_picture_that_is_not_an_image_is_refused_by_weibo(rig: Rig, tmp_path: Path) -> None:
    """A file that says PNG but is not one meets 20005, a content refusal on ``pic``."""
    (tmp_path / "fake.png").write_bytes(b"not an image")
    channel = rig.channel()
    payload = channel.prepare(message(attachments=(
        Attachment("fake.png", "image/png", tmp_path / "fake.png"),)))
    with pytest.raises(ContentRejected) as caught:
        channel.send(payload, "k")
    assert (caught.value.code, caught.value.field) == ("20005", "pic")


def test_crash_after_accept_is_reconciled_by_the_duplicate(rig: Rig) -> None:
    """Accepted but the receipt never stored: the resend meets 20019 and returns the original."""
    channel = rig.channel()
    payload = channel.prepare(message())
    original = channel.send(payload, "k")  # the process dies before storing this receipt
    restarted = rig.channel()
    with pytest.raises(AlreadyPublished) as caught:
        restarted.send(payload, "k")
    assert caught.value.code == "20019"
    assert caught.value.receipt == original
    assert rig.emulator.count(with_mark(str(payload.data["status"]), "k")) == 1


def test_connection_cut_after_accept_is_an_unknown_outcome_found_by_its_mark(rig: Rig) -> None:
    """The emulator posts then drops the connection: the outcome is unknown (not a plain
    retry), and find sees the post by the delivery's mark; a resend would meet 20019 and be
    recognised as this delivery's own post."""
    channel = rig.channel()
    payload = channel.prepare(message())
    rig.emulator.fail_next(Fault(drop=True, after_accept=True))
    with pytest.raises(OutcomeUnknown):
        channel.send(payload, "k")
    [post] = rig.emulator.platform.posts
    assert post["text"].endswith(mark_for("k"))
    found = channel.find("k", payload)
    assert found is not None and found.remote_id == post["idstr"]
    with pytest.raises(AlreadyPublished) as caught:
        channel.send(payload, "k")
    assert caught.value.receipt.remote_id == post["idstr"]
    assert len(rig.emulator.platform.posts) == 1


def test_a_post_that_never_left_is_a_plain_retry(rig: Rig) -> None:
    """A refused connection means the request never left: a transient error, not unknown."""
    down = rig.channel(base_url="http://127.0.0.1:9")
    with pytest.raises(TransientChannelError) as caught:
        down.send(down.prepare(message()), "k")
    assert not isinstance(caught.value, OutcomeUnknown)


def test_similar_text_of_the_same_delivery_is_already_published(rig: Rig) -> None:
    """Similar text (20017) from the same delivery (its mark on the earlier post) is already
    published, with the earlier post found."""
    channel = rig.channel()
    first = channel.send(channel.prepare(message("本周抽检120批次，不合格2批次。")), "k")
    with pytest.raises(AlreadyPublished) as caught:
        channel.send(channel.prepare(message("本周抽检 120 批次 不合格 2 批次")), "k")
    assert caught.value.code == "20017"
    assert caught.value.receipt == first


def test_similar_refusal_for_another_delivery_is_not_published(rig: Rig) -> None:
    """Weibo refuses a new delivery's post as similar (20017) to another delivery's: it is a
    refusal naming the reason in zh-CN (change the wording), never that other post's receipt."""
    channel = rig.channel()
    channel.send(channel.prepare(message("演练：某区化工厂发生火灾。")), "k1")
    rig.emulator.fail_next("20017@/2/statuses/share.json")
    with pytest.raises(ContentRejected) as caught:
        channel.send(channel.prepare(message("演练：某区化工厂发生火灾！", serial=50)), "k2")
    assert not isinstance(caught.value, AlreadyPublished)
    assert caught.value.code == "20017" and caught.value.field == "status"
    assert "本条未发布" in caught.value.explanation_zh and "修改文字" in caught.value.explanation_zh
    assert "NOT published" in str(caught.value)
    assert len(rig.emulator.platform.posts) == 1


def test_duplicate_without_timeline_is_unknown_not_published(tmp_path: Path) -> None:
    """Where the timeline cannot be read, a duplicate answer cannot be checked against the
    delivery's mark: the outcome is unknown (a person decides), never published on a guess."""
    for rig in start_rig(tmp_path, timeline_allowed=False):
        channel = rig.channel()
        payload = channel.prepare(message())
        channel.send(payload, "k")
        with pytest.raises(OutcomeUnknown) as caught:
            channel.send(payload, "k")
        assert caught.value.code == "20019"
        assert "人工" in caught.value.explanation_zh
        with pytest.raises(NotSupported):
            channel.find("k", payload)


def test_find_looks_in_the_own_timeline(rig: Rig) -> None:
    """find returns the receipt of a landed post and None for one that never landed."""
    channel = rig.channel()
    payload = channel.prepare(message())
    assert channel.find("k", payload) is None
    receipt = channel.send(payload, "k")
    assert channel.find("k", payload) == receipt


# --------------------------------------------------------------------------- follow-up, retract


def test_follow_up_comments_on_the_original(rig: Rig) -> None:
    """An update is a comment on the original post; the same comment twice is already published."""
    channel = rig.channel()
    original = channel.send(channel.prepare(message()), "k")
    update = channel.prepare(message("更新：已责令下架。", serial=50))
    comment = channel.follow_up(original, update)
    stored = rig.emulator.platform.comments
    assert [c["status_id"] for c in stored] == [original.remote_id]
    assert comment.remote_id == stored[0]["idstr"] and comment.details["comment_on"] == \
        original.remote_id
    with pytest.raises(AlreadyPublished):
        channel.follow_up(original, update)
    assert len(rig.emulator.platform.comments) == 1


def test_follow_up_without_post_id_is_manual(rig: Rig) -> None:
    """A receipt without a post id (20032) cannot take a comment: the error says do it by hand."""
    with pytest.raises(PermanentChannelError, match="by hand"):
        rig.channel().follow_up(Receipt(remote_id=""), rig.channel().prepare(message()))


def test_retract_deletes_and_is_quiet_when_already_gone(rig: Rig) -> None:
    """retract deletes the post; a second retract (20101) is already done."""
    channel = rig.channel()
    receipt = channel.send(channel.prepare(message()), "k")
    channel.retract(receipt)
    channel.retract(receipt)
    assert rig.emulator.platform.live_posts() == []
    assert len(rig.emulator.platform.posts) == 1


def test_retract_refused_says_remove_by_hand(tmp_path: Path) -> None:
    """Where Weibo refuses deletes (10014), the error tells staff to remove the post by hand."""
    for rig in start_rig(tmp_path, destroy_allowed=False):
        channel = rig.channel()
        receipt = channel.send(channel.prepare(message()), "k")
        with pytest.raises(PermanentChannelError) as caught:
            channel.retract(receipt)
        assert "remove it by hand" in str(caught.value)
        assert "手动删除" in caught.value.explanation_zh
        assert caught.value.code == "10014"


# --------------------------------------------------------------------------- tokens and checks


def test_check_is_clean_for_a_long_lived_token(rig: Rig) -> None:
    """A token with years left passes the online check."""
    assert rig.channel().check() == []


@pytest.mark.parametrize("spelling", ["expire_in", "expires_in"])
def test_check_warns_ahead_of_expiry(tmp_path: Path, spelling: str) -> None:
    """Ten days left warns (either spelling of the seconds left); the warning names the days."""
    for rig in start_rig(tmp_path, expiry_spelling=spelling):
        token = rig.emulator.platform.issue_token(lifetime_seconds=10 * 86400).value
        problems = rig.channel(access_token=SecretStr(token)).check()
        assert len(problems) == 1 and "10 天后" in problems[0] and "10 days" in problems[0]
        assert rig.channel(access_token=SecretStr(token), expiry_warning_days=7).check() == []


def test_expired_and_revoked_tokens(rig: Rig) -> None:
    """Expired (21327) and revoked (21332) tokens: sends fail at once, check says re-authorise."""
    platform = rig.emulator.platform
    short = platform.issue_token(lifetime_seconds=60).value
    revoked = platform.issue_token().value
    platform.revoke(revoked)
    rig.clock.advance(seconds=61)
    for token, code in ((short, "21327"), (revoked, "21332")):
        channel = rig.channel(access_token=SecretStr(token))
        with pytest.raises(AuthorisationGone) as caught:
            channel.send(channel.prepare(message()), "k")
        assert caught.value.code == code
        assert "re-authorise this account" in " ".join(channel.check())
    assert platform.posts == []


def test_no_token_is_a_configuration_error(rig: Rig) -> None:
    """An account never authorised fails with the command to run, and check reports it."""
    channel = rig.channel(access_token=None)
    with pytest.raises(ConfigurationError, match="publisher weibo authorize weibo-main"):
        channel.send(channel.prepare(message()), "k")
    assert "weibo-main" in channel.check()[0]


def test_secrets_stay_out_of_errors(rig: Rig) -> None:
    """The token never appears in any error's text, remote message or description."""
    channel = rig.channel()
    payload = channel.prepare(message())
    rig.emulator.fail_next("21332", "10017", "accept+drop")
    for _ in range(3):
        with pytest.raises(Exception) as caught:
            channel.send(payload, "k")
        assert rig.token not in str(caught.value)
        assert rig.token not in repr(getattr(caught.value, "describe", dict)())
    down = rig.channel(base_url="http://127.0.0.1:9")
    with pytest.raises(TransientChannelError) as caught_down:
        down.send(payload, "k")
    assert rig.token not in str(caught_down.value)


def test_start_sandbox_posts_to_the_emulator(tmp_path: Path) -> None:
    """start_sandbox swaps in the emulator and a token it accepts; stop ends it."""
    settings = WeiboSettings(link_base_url="http://127.0.0.1:8180/", rip="127.0.0.1")
    sandboxed, stop = WeiboChannel.start_sandbox(settings)
    try:
        assert isinstance(sandboxed, WeiboSettings)
        assert sandboxed.base_url.startswith("http://127.0.0.1:")
        assert sandboxed.access_token is not None
        for rig in start_rig(tmp_path):
            context = rig.channel().context
            channel = WeiboChannel("weibo-drill", sandboxed, context)
            receipt = channel.send(channel.prepare(message()), "k")
            assert receipt.remote_id
    finally:
        stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(sandboxed.base_url, timeout=2)


def test_two_copies_keep_the_first_and_delete_the_other(tmp_path: Path) -> None:
    """Two posts carry one delivery's mark (Weibo took a resend): find keeps the first and
    deletes the other; where Weibo refuses deletes, the copy is named for removal by hand."""
    from publisher.reconcile import duplicates_note

    for allowed in (True, False):
        for rig in start_rig(tmp_path / str(allowed), repeat_window_seconds=0,
                             destroy_allowed=allowed):
            channel = rig.channel()
            payload = channel.prepare(message())
            first, second = channel.send(payload, "k"), channel.send(payload, "k")
            found = channel.find("k", payload)
            assert found is not None and found.remote_id == first.remote_id
            [copy] = found.details["duplicates"]
            assert copy["remote_id"] == second.remote_id
            note = duplicates_note(found) or ""
            if allowed:
                assert copy["status"] == "deleted" and "已撤下" in note
                assert [p["idstr"] for p in rig.emulator.platform.live_posts()] == \
                    [first.remote_id]
            else:
                assert copy["status"] == "delete_refused" and "请人工删除" in note
                assert "delete by hand" in note
