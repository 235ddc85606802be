"""The wordpress kind against its emulator: slug idempotency, trash, and the error table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from pydantic import SecretStr, ValidationError

from channels.base import (
    Attachment,
    ChannelContext,
    ChannelError,
    ConfigurationError,
    ContentRejected,
    Message,
    OutcomeUnknown,
    PermanentChannelError,
    RateLimited,
    TransientChannelError,
    idempotency_key,
)
from channels.wordpress.adapter import WordPressChannel, WordPressSettings
from channels.wordpress.sandbox import Emulator, serve
from tests.support import fault_proxy
from tests.support.fault_proxy import Rule

PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    running = serve()
    running.state.add_user("editor", PASSWORD)
    running.state.add_user("reader", "zzzz yyyy xxxx", editor=False)
    yield running
    running.stop()


@pytest.fixture
def make_wp(emulator: Emulator, context: ChannelContext) -> Callable[..., WordPressChannel]:
    def make(**overrides: Any) -> WordPressChannel:
        values: dict[str, Any] = {"base_url": emulator.url, "username": "editor",
                                  "application_password": SecretStr(PASSWORD),
                                  "timeout_seconds": 5}
        values.update(overrides)
        return WordPressChannel("wordpress-main", WordPressSettings(**values), context)

    return make


KEY = idempotency_key("food-safety-sampling@2026-W49", "wordpress-main")


def test_send_creates_one_post_in_the_column_category(
        emulator: Emulator, make_wp: Callable[..., WordPressChannel],
        make_message: Callable[..., Message]) -> None:
    """A send makes one published post with the slug, the column's category and the panel."""
    channel = make_wp()
    receipt = channel.send(channel.prepare(make_message()), KEY)
    post = emulator.state.posts[int(receipt.remote_id)]
    assert post["slug"] == "food-safety-sampling-2026-w49"
    assert post["status"] == "publish"
    category = emulator.state.categories[post["categories"][0]]
    assert (category["slug"], category["name"]) == ("food-safety", "食品安全抽检")
    assert "MB0000123/2026-00049" in post["content"] and "索引号" in post["content"]
    assert receipt.details["location"].endswith(f"/wp-json/wp/v2/posts/{receipt.remote_id}")
    assert receipt.url == post["link"]


def test_resend_updates_the_same_post(emulator: Emulator, make_wp: Callable[..., WordPressChannel],
                                      make_message: Callable[..., Message]) -> None:
    """Sending the same delivery twice leaves exactly one post, updated in place."""
    channel = make_wp()
    first = channel.send(channel.prepare(make_message()), KEY)
    again = channel.send(channel.prepare(make_message(title="更正后的标题")), KEY)
    assert again.remote_id == first.remote_id
    assert len(emulator.state.posts) == 1
    assert emulator.state.posts[int(first.remote_id)]["title"] == "更正后的标题"


def test_crash_mid_send_never_makes_a_second_post(
        emulator: Emulator, make_wp: Callable[..., WordPressChannel],
        make_message: Callable[..., Message]) -> None:
    """The post lands but the answer is lost: an unknown outcome (not a plain retry); find and
    the resend both see the one post."""
    channel = make_wp()
    payload = channel.prepare(make_message())
    emulator.state.faults.append("drop")
    with pytest.raises(OutcomeUnknown):
        channel.send(payload, KEY)
    assert emulator.state.creates == 1
    found = channel.find(KEY, payload)
    assert found is not None
    fresh = make_wp()  # a restarted process: no cached categories, same remote
    assert fresh.send(payload, KEY).remote_id == found.remote_id
    assert emulator.state.creates == 1 and len(emulator.state.posts) == 1


def test_find_ignores_other_deliveries(make_wp: Callable[..., WordPressChannel],
                                       make_message: Callable[..., Message]) -> None:
    """find returns None before the send and for a key that did not make the post."""
    channel = make_wp()
    payload = channel.prepare(make_message())
    assert channel.find(KEY, payload) is None
    channel.send(payload, KEY)
    assert channel.find("0" * 32, payload) is None


def test_slug_held_by_another_post_is_refused(
        emulator: Emulator, make_wp: Callable[..., WordPressChannel],
        make_message: Callable[..., Message]) -> None:
    """A post made by someone else under the slug is never overwritten."""
    channel = make_wp()
    channel.send(channel.prepare(make_message()), KEY)
    with pytest.raises(PermanentChannelError) as info:
        channel.send(channel.prepare(make_message()), "1" * 32)
    assert info.value.code == "slug_taken"
    assert len(emulator.state.posts) == 1


def test_retract_moves_to_trash_and_is_idempotent(
        emulator: Emulator, make_wp: Callable[..., WordPressChannel],
        make_message: Callable[..., Message]) -> None:
    """retract trashes the post; a second retract (410) is fine; a resend is refused."""
    channel = make_wp()
    payload = channel.prepare(make_message())
    receipt = channel.send(payload, KEY)
    channel.retract(receipt)
    assert emulator.state.posts[int(receipt.remote_id)]["status"] == "trash"
    channel.retract(receipt)
    found = channel.find(KEY, payload)
    assert found is not None and found.details["status"] == "trash"
    with pytest.raises(PermanentChannelError) as info:
        channel.send(payload, KEY)
    assert info.value.code == "withdrawn"
    assert len(emulator.state.posts) == 1


def test_retract_without_trash_needs_a_person(
        emulator: Emulator, make_wp: Callable[..., WordPressChannel],
        make_message: Callable[..., Message]) -> None:
    """A site with trash disabled (501) is a configuration problem, and the post stays."""
    channel = make_wp()
    receipt = channel.send(channel.prepare(make_message()), KEY)
    emulator.state.trash_enabled = False
    with pytest.raises(ConfigurationError) as info:
        channel.retract(receipt)
    assert info.value.code == "rest_trash_not_supported"
    assert emulator.state.posts[int(receipt.remote_id)]["status"] == "publish"


def test_retract_unknown_post_is_permanent(make_wp: Callable[..., WordPressChannel]) -> None:
    """Retracting a post id the site never had reports rest_post_invalid_id."""
    from channels.base import Receipt

    with pytest.raises(PermanentChannelError) as info:
        make_wp().retract(Receipt(remote_id="999"))
    assert info.value.code == "rest_post_invalid_id"


@pytest.mark.parametrize(("user", "password", "code", "zh_word"), [
    ("editor", "wrong pass word", "rest_invalid_param", "应用密码错误"),
    ("nobody", PASSWORD, "rest_invalid_param", "应用密码错误"),
    ("reader", "zzzz yyyy xxxx", "rest_cannot_create", "权限不足"),
])
def test_auth_failures_split_401_and_403(make_wp: Callable[..., WordPressChannel],
                                         make_message: Callable[..., Message], user: str,
                                         password: str, code: str, zh_word: str) -> None:
    """Bad credentials (WordPress answers them as an anonymous visitor: a 400 about ``status``
    on the first lookup) say the application password is wrong, never bad content; a
    logged-in account without rights (403) reads differently."""
    channel = make_wp(username=user, application_password=SecretStr(password))
    with pytest.raises(ConfigurationError) as info:
        channel.send(channel.prepare(make_message()), KEY)
    assert info.value.code == code
    assert zh_word in str(info.value)


@pytest.mark.parametrize(("status", "error"), [
    (500, TransientChannelError), (503, TransientChannelError), (408, TransientChannelError),
    (429, RateLimited), (400, PermanentChannelError), (404, PermanentChannelError),
    (410, PermanentChannelError), (418, PermanentChannelError),
])
def test_status_classification(emulator: Emulator, make_wp: Callable[..., WordPressChannel],
                               make_message: Callable[..., Message], status: int,
                               error: type[ChannelError]) -> None:
    """Each injected HTTP status maps to its error class and keeps WordPress's code."""
    channel = make_wp()
    emulator.state.faults.append(status)
    with pytest.raises(error) as info:
        channel.send(channel.prepare(make_message()), KEY)
    assert info.value.code == "sandbox_fault"
    assert info.value.retryable == (status in (408, 429, 500, 503))


def test_rate_limit_reads_retry_after(emulator: Emulator, make_wp: Callable[..., WordPressChannel],
                                      make_message: Callable[..., Message]) -> None:
    """A 429's Retry-After header becomes the error's retry_after."""
    channel = make_wp()
    emulator.state.faults.append(429)
    with pytest.raises(RateLimited) as info:
        channel.send(channel.prepare(make_message()), KEY)
    assert info.value.retry_after == 1.0


def test_invalid_param_names_the_field(make_wp: Callable[..., WordPressChannel],
                                       make_message: Callable[..., Message]) -> None:
    """rest_invalid_param becomes ContentRejected naming the field from data.params."""
    channel = make_wp()
    payload = channel.prepare(make_message())
    channel.settings = channel.settings.model_copy(update={"status": "archived"})
    with pytest.raises(ContentRejected) as info:
        channel.send(payload, KEY)
    assert info.value.field == "status"
    assert info.value.code == "rest_invalid_param"


def test_password_never_in_errors(emulator: Emulator, make_wp: Callable[..., WordPressChannel],
                                  make_message: Callable[..., Message]) -> None:
    """No error text carries the application password, with or without its spaces."""
    channel = make_wp(username="editor", application_password=SecretStr("abcd EFGH bad"))
    with pytest.raises(ChannelError) as info:
        channel.send(channel.prepare(make_message()), KEY)
    text = repr(info.value.describe()) + str(info.value)
    assert "abcd EFGH bad" not in text and "abcdEFGHbad" not in text


def test_unreachable_site_is_transient(make_wp: Callable[..., WordPressChannel],
                                       make_message: Callable[..., Message]) -> None:
    """A refused connection is transient (safe: the slug is looked up before creating)."""
    stopped = serve()
    url = stopped.url
    stopped.stop()
    channel = make_wp(base_url=url)
    with pytest.raises(TransientChannelError):
        channel.send(channel.prepare(make_message()), KEY)


def test_check_reports_bad_credentials(make_wp: Callable[..., WordPressChannel]) -> None:
    """check is empty for a good account and names the problem for a bad one."""
    assert make_wp().check() == []
    problems = make_wp(application_password=SecretStr("nope nope")).check()
    assert len(problems) == 1 and "应用密码错误" in problems[0]


def test_plain_http_only_on_loopback() -> None:
    """The application password goes over https; http is allowed only for loopback."""
    with pytest.raises(ValidationError):
        WordPressSettings(base_url="http://www.example.gov.cn/", username="u",
                          application_password=SecretStr("x"))
    settings = WordPressSettings(base_url="https://www.example.gov.cn", username="u",
                                 application_password=SecretStr("x"))
    assert settings.base_url == "https://www.example.gov.cn/"


def test_attachments_other_than_pictures_are_rejected(
        make_wp: Callable[..., WordPressChannel], make_message: Callable[..., Message],
        tmp_path: Any) -> None:
    """prepare refuses an attachment that is no picture, naming the field."""
    message = make_message(attachments=(Attachment("a.pdf", "application/pdf", tmp_path),))
    with pytest.raises(ContentRejected) as info:
        make_wp().prepare(message)
    assert info.value.field == "attachments[0].content_type"


def test_picture_uploaded_once_and_shown(emulator: Emulator,
                                         make_wp: Callable[..., WordPressChannel],
                                         make_message: Callable[..., Message],
                                         tmp_path: Any) -> None:
    """A picture goes to the media library once, even when the send is repeated, and the
    post shows it at its media address in place of its name."""
    picture = tmp_path / "scene.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    message = make_message(body="<p>现场照片：</p><p><img src=\"scene.png\"></p>",
                           attachments=(Attachment("scene.png", "image/png", picture),))
    channel = make_wp()
    payload = channel.prepare(message)
    channel.send(payload, KEY)
    receipt = channel.send(payload, KEY)
    [medium] = emulator.state.media.values()
    content = emulator.state.posts[int(receipt.remote_id)]["content"]
    assert medium["source_url"] in content and 'src="scene.png"' not in content
    assert emulator.state.creates == 1


def test_start_sandbox_accepts_the_configured_account(
        context: ChannelContext, make_message: Callable[..., Message]) -> None:
    """The --sandbox emulator takes the configured user and password, and posts land there."""
    settings = WordPressSettings(base_url="https://www.example.gov.cn/", username="bot",
                                 application_password=SecretStr("sandbox-wp"))
    sandboxed, stop = WordPressChannel.start_sandbox(settings)
    try:
        assert isinstance(sandboxed, WordPressSettings)
        channel = WordPressChannel("wordpress-main", sandboxed, context)
        receipt = channel.send(channel.prepare(make_message()), KEY)
        assert receipt.url is not None and receipt.url.startswith("http://127.0.0.1:")
    finally:
        stop()


def test_category_is_reused_across_releases(
        emulator: Emulator, make_wp: Callable[..., WordPressChannel],
        make_message: Callable[..., Message]) -> None:
    """Two releases of one column, sent by separate processes, share the column's category."""
    first = make_wp().send(make_wp().prepare(make_message(48)), "2" * 32)
    second = make_wp().send(make_wp().prepare(make_message(49)), "3" * 32)
    assert len(emulator.state.categories) == 1
    posts = emulator.state.posts
    assert posts[int(first.remote_id)]["categories"] == posts[int(second.remote_id)]["categories"]


def _copy(emulator: Emulator, channel: WordPressChannel, key: str, slug: str,
          status: str = "publish") -> int:
    """A post carrying ``key``'s owner mark, made straight at the site (as a lost create)."""
    answer = requests.post(emulator.url + "wp-json/wp/v2/posts", auth=("editor", PASSWORD),
                           json={"title": "副本", "slug": slug, "status": status,
                                 "content": f"<!-- gov-publisher delivery={key} -->\n<p>x</p>"},
                           timeout=5)
    assert answer.status_code == 201
    return int(answer.json()["id"])


def test_find_recognises_the_delivery_under_any_slug(
        emulator: Emulator, make_wp: Callable[..., WordPressChannel],
        make_message: Callable[..., Message]) -> None:
    """A post carrying the delivery's mark is found though its slug was changed (search)."""
    channel = make_wp()
    payload = channel.prepare(make_message())
    post_id = _copy(emulator, channel, KEY, "renamed-by-an-editor", status="draft")
    found = channel.find(KEY, payload)
    assert found is not None and found.remote_id == str(post_id)
    assert "duplicates" not in found.details


def test_two_copies_keep_the_first_and_trash_the_other(
        emulator: Emulator, make_wp: Callable[..., WordPressChannel],
        make_message: Callable[..., Message]) -> None:
    """find keeps the post holding the slug, trashes the copy, and names it in the receipt;
    a later send updates the kept post and makes none."""
    channel = make_wp()
    payload = channel.prepare(make_message())
    kept = int(channel.send(payload, KEY).remote_id)
    copy = _copy(emulator, channel, KEY, "food-safety-sampling-2026-w49")  # gets ...-2
    assert emulator.state.posts[copy]["slug"] == "food-safety-sampling-2026-w49-2"
    found = channel.find(KEY, payload)
    assert found is not None and found.remote_id == str(kept)
    assert [d["remote_id"] for d in found.details["duplicates"]] == [str(copy)]
    assert emulator.state.posts[copy]["status"] == "trash"
    assert channel.send(payload, KEY).remote_id == str(kept)
    assert emulator.state.posts[kept]["status"] == "publish" and len(emulator.state.posts) == 2


def test_send_with_a_copy_updates_one_and_trashes_the_other(
        emulator: Emulator, make_wp: Callable[..., WordPressChannel],
        make_message: Callable[..., Message]) -> None:
    """A resend that meets two live copies of its delivery keeps one (recorded) and trashes
    the other; it creates nothing."""
    channel = make_wp()
    payload = channel.prepare(make_message())
    first = _copy(emulator, channel, KEY, "food-safety-sampling-2026-w49")
    second = _copy(emulator, channel, KEY, "food-safety-sampling-2026-w49")
    receipt = channel.send(payload, KEY)
    assert receipt.remote_id == str(first)
    assert receipt.details["duplicates"][0]["remote_id"] == str(second)
    assert [emulator.state.posts[i]["status"] for i in (first, second)] == ["publish", "trash"]


def test_retract_trashes_every_copy(emulator: Emulator, make_wp: Callable[..., WordPressChannel],
                                    make_message: Callable[..., Message]) -> None:
    """Withdrawing the post also withdraws a live copy carrying the same delivery's mark."""
    channel = make_wp()
    receipt = channel.send(channel.prepare(make_message()), KEY)
    copy = _copy(emulator, channel, KEY, "some-other-slug")
    channel.retract(receipt)
    assert {p["status"] for p in emulator.state.posts.values()} == {"trash"}
    assert emulator.state.posts[copy]["status"] == "trash"


@pytest.mark.parametrize(("rule", "error"), [
    (Rule("late_answer", "POST", r"/posts$", seconds=3.0), OutcomeUnknown),
    (Rule("error", "POST", r"/posts$", status=504), OutcomeUnknown),
    (Rule("error", "POST", r"/posts$", status=502), TransientChannelError),
    (Rule("late_answer", "GET", r"/posts$", seconds=3.0), TransientChannelError),
])
def test_which_lost_answers_are_unknown(
        emulator: Emulator, make_wp: Callable[..., WordPressChannel],
        make_message: Callable[..., Message], rule: Rule, error: type[ChannelError]) -> None:
    """Only a create that may have run is an unknown outcome (an answer after the timeout, a
    504 from a gateway that gave up on WordPress); a 502 answer or a lost lookup is a plain
    retry."""
    proxy = fault_proxy.serve(emulator.url)
    try:
        proxy.state.add(rule)
        channel = make_wp(base_url=proxy.url, timeout_seconds=1.5)
        with pytest.raises(error) as info:
            channel.send(channel.prepare(make_message()), KEY)
        assert type(info.value) is error
    finally:
        proxy.stop()
