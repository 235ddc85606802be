"""Tests for publisher.logs: one configured pipeline, bound context, and secrets never printed."""

from __future__ import annotations

import http.server
import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
import structlog
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from publisher import logs

SECRET = "wx-app-secret-5f2c9e"
Configure = Callable[..., io.StringIO]


@pytest.fixture
def configured() -> Iterator[Configure]:
    """Configure logging into a StringIO and undo every global change afterwards."""
    root = logging.getLogger()
    root_level = root.level
    quiet_levels = {name: logging.getLogger(name).level for name in logs.QUIET_LOGGERS}
    logs.register_secret(SECRET)

    def configure(*, json: bool = True, level: str = "INFO") -> io.StringIO:
        # configure() would give pytest's capture handlers a RedactingFilter, which masks the
        # shared record in place before our handler sees it; keep them out so each test
        # proves the structlog pipeline on its own.
        others = [h for h in root.handlers if not isinstance(h, logs.RootHandler)]
        for handler in others:
            root.removeHandler(handler)
        stream = io.StringIO()
        logs.configure(json=json, level=level, stream=stream)
        for handler in others:
            root.addHandler(handler)
        return stream

    yield configure
    for handler in [h for h in root.handlers if isinstance(h, logs.RootHandler)]:
        root.removeHandler(handler)
    root.setLevel(root_level)
    for name, level in quiet_levels.items():
        logging.getLogger(name).setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_registered_secret_never_in_json_output(configured: Configure) -> None:
    """A registered secret in the event text or in any value is masked in the JSON line."""
    stream = configured(json=True)
    log = logs.get_logger("test")
    log.info(f"calling with {SECRET}", value=SECRET, note=f"prefix-{SECRET}-suffix")
    output = stream.getvalue()
    assert SECRET not in output
    (line,) = lines(stream)
    assert line["value"] == "***"
    assert line["note"] == "prefix-***-suffix"


def test_registered_secret_never_in_console_output(configured: Configure) -> None:
    """The console renderer also only ever sees masked values, and adds no colours off a TTY."""
    stream = configured(json=False)
    logs.get_logger("test").warning("token check", detail=SECRET, items=[SECRET])
    output = stream.getvalue()
    assert SECRET not in output
    assert "detail=***" in output
    assert "\x1b[" not in output


def test_secret_in_logged_exception_traceback_is_masked(configured: Configure) -> None:
    """The traceback text that log.exception renders is redacted too."""
    stream = configured(json=True)
    log = logs.get_logger("test")
    try:
        raise RuntimeError(f"token call failed: https://h/cgi-bin/token?secret={SECRET}")
    except RuntimeError:
        log.exception("token fetch failed")
    output = stream.getvalue()
    assert SECRET not in output
    (line,) = lines(stream)
    assert "RuntimeError: token call failed" in line["exception"]
    assert "secret=***" in line["exception"]


def test_stdlib_logger_with_url_argument_is_masked(configured: Configure) -> None:
    """A plain logging.getLogger(...).warning('url %s', url) line comes out as redacted JSON."""
    stream = configured(json=True)
    url = f"https://api.weixin.qq.com/cgi-bin/token?appid=wx1&secret={SECRET}&x=1"
    logging.getLogger("x").warning("url %s", url)
    output = stream.getvalue()
    assert SECRET not in output
    (line,) = lines(stream)
    assert line["event"] == "url https://api.weixin.qq.com/cgi-bin/token?appid=wx1&secret=***&x=1"
    assert line["logger"] == "x"
    assert line["level"] == "warning"


def test_stdlib_exception_traceback_is_masked(configured: Configure) -> None:
    """A stdlib logger.exception traceback passes through the same redaction."""
    stream = configured(json=True)
    try:
        raise ValueError(f"bad response for access_token=tok-9876 with {SECRET}")
    except ValueError:
        logging.getLogger("lib").exception("failed")
    output = stream.getvalue()
    assert SECRET not in output
    assert "tok-9876" not in output
    assert "ValueError: bad response for access_token=***" in lines(stream)[0]["exception"]


@pytest.mark.parametrize(
    "name",
    [
        "access_token",
        "token",
        "secret",
        "appsecret",
        "app_secret",
        "password",
        "passwd",
        "client_secret",
        "code",
        "signature",
        "key",
        "ACCESS_TOKEN",
        "Secret",
    ],
)
def test_url_query_secrets_masked_without_registration(name: str) -> None:
    """Secret-named query parameters are masked even when the value was never registered."""
    url = f"https://api.example.gov/v1/post?appid=wx1&{name}=unregistered-v4lue&page=2#top"
    assert logs.Redactor().redact_text(url) == (
        f"https://api.example.gov/v1/post?appid=wx1&{name}=***&page=2#top"
    )


def test_ordinary_parameters_and_error_codes_stay_readable() -> None:
    """Non-secret names that merely contain 'code', 'key' or 'token' are left alone."""
    text = (
        "errcode=40001 status_code=500 idempotency_key=gdp-2024q1:wechat token_type=bearer "
        "https://h/p?region_code=310000&tokens=3"
    )
    assert logs.Redactor().redact_text(text) == text


def test_authorization_headers_masked() -> None:
    """Authorization header values are masked in header lines, dict reprs and JSON text."""
    redactor = logs.Redactor()
    assert redactor.redact_text("Authorization: Bearer eyJhbGci.payload.sig") == (
        "Authorization: Bearer ***"
    )
    assert redactor.redact_text("authorization: Basic dXNlcjpodW50ZXIy") == (
        "authorization: Basic ***"
    )
    assert redactor.redact_text("{'Authorization': 'Bearer abc.def', 'Host': 'h'}") == (
        "{'Authorization': 'Bearer ***', 'Host': 'h'}"
    )
    assert redactor.redact({"headers": {"Authorization": "Bearer abc.def"}}) == {
        "headers": {"Authorization": "***"}
    }


def test_url_userinfo_password_masked() -> None:
    """The password in scheme://user:password@host is masked; user and host stay."""
    redactor = logs.Redactor()
    assert redactor.redact_text("postgresql+psycopg://publisher:hunter2@db:5432/pub") == (
        "postgresql+psycopg://publisher:***@db:5432/pub"
    )


def test_secret_shaped_json_and_repr_text_masked() -> None:
    """'password': '…' and "app_secret": … inside stored text (JSON, repr) are masked."""
    redactor = logs.Redactor()
    text = '{"password": "hun\\"ter2", "user": "bob", "app_secret": 12345}'
    assert redactor.redact_text(text) == '{"password": "***", "user": "bob", "app_secret": ***}'
    assert redactor.redact_text("{'access_token': 'abc', 'n': 1}") == (
        "{'access_token': '***', 'n': 1}"
    )


def test_nested_structures_redacted() -> None:
    """Secrets are masked inside nested dicts, lists, tuples, sets and exception objects."""
    redactor = logs.Redactor((SECRET,))
    value = {
        "request": {"url": "https://h/x?access_token=abcd1234", "headers": [("X", SECRET)]},
        "app_secret": "plain-but-secret-key",
        "password": None,
        "has_token": True,
        "tags": {SECRET, "ok"},
        "error": ValueError(f"boom {SECRET}"),
        "count": 3,
    }
    assert redactor.redact(value) == {
        "request": {"url": "https://h/x?access_token=***", "headers": [("X", "***")]},
        "app_secret": "***",
        "password": None,
        "has_token": True,
        "tags": {"***", "ok"},
        "error": "ValueError('boom ***')",
        "count": 3,
    }


def test_short_values_are_not_registered() -> None:
    """Values under four characters are ignored so common words are not masked everywhere."""
    redactor = logs.Redactor()
    redactor.register_secret("abc")
    assert redactor.secret_count == 0
    assert redactor.redact_text("abc abcd") == "abc abcd"


def test_url_encoded_form_of_a_secret_is_masked() -> None:
    """A registered secret is also masked when it appears percent-encoded in a URL."""
    redactor = logs.Redactor(("p@ss/w0rd+x",))
    assert redactor.redact_text("https://h/login?u=1&pw=p%40ss%2Fw0rd%2Bx") == (
        "https://h/login?u=1&pw=***"
    )


def test_register_secret_is_thread_safe() -> None:
    """Secrets registered concurrently from many threads are all masked afterwards."""
    redactor = logs.Redactor()
    values = [f"secret-value-{n:03d}" for n in range(200)]
    threads = [
        threading.Thread(target=lambda chunk=values[i::8]: [*map(redactor.register_secret, chunk)])
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert redactor.redact_text(" ".join(values)) == " ".join(["***"] * len(values))


def test_redact_event_processor_with_capture_logs() -> None:
    """The redact_event processor masks secret-named keys and registered values in event dicts."""
    logs.register_secret(SECRET)
    with capture_logs(processors=[logs.redact_event]) as captured:
        structlog.get_logger().info("sent", app_secret="x-value", body=f"secret is {SECRET}")
    assert captured == [
        {"event": "sent", "app_secret": "***", "body": "secret is ***", "log_level": "info"}
    ]


def test_bound_context_appears_on_lines(configured: Configure) -> None:
    """release_id, channel, delivery_id and attempt bound with bound() appear on every line."""
    stream = configured(json=True)
    log = logs.get_logger("publisher.dispatch")
    with logs.bound(release_id="cpi-2024-05", channel="wechat", delivery_id=42, attempt=2):
        log.info("sending")
        logging.getLogger("lib").warning("library line")
    log.info("after")
    first, second, after = lines(stream)
    for line in (first, second):
        assert {k: line[k] for k in logs.CONTEXT_KEYS} == {
            "release_id": "cpi-2024-05",
            "channel": "wechat",
            "delivery_id": 42,
            "attempt": 2,
        }
    assert not set(logs.CONTEXT_KEYS) & after.keys()


def test_bind_and_unbind_with_capture_logs() -> None:
    """bind() adds context to later events until unbind() removes it."""
    merge = structlog.contextvars.merge_contextvars
    try:
        logs.bind(release_id="gdp-2024q1", channel="portal")
        with capture_logs(processors=[merge]) as captured:
            structlog.get_logger().info("one")
            logs.unbind("channel")
            structlog.get_logger().info("two")
    finally:
        structlog.contextvars.clear_contextvars()
    assert captured[0]["channel"] == "portal"
    assert captured[1]["release_id"] == "gdp-2024q1"
    assert "channel" not in captured[1]


class _QuietRequestHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"errcode": 0}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test server quiet."""


@pytest.fixture
def local_server() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 with an OS-chosen port, stopped after the test."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_urllib3_request_lines_silent_even_at_debug(
    configured: Configure, local_server: str
) -> None:
    """At level DEBUG, urllib3 stays at WARNING, so a real request prints no URL at all."""
    stream = configured(json=True, level="DEBUG")
    token = "ACCESS-TOKEN-0a1b2c3d"
    response = requests.get(f"{local_server}/cgi-bin/draft/add?access_token={token}", timeout=5)
    assert response.status_code == 200
    logs.get_logger("test").debug("done")
    output = stream.getvalue()
    assert token not in output
    assert [line["logger"] for line in lines(stream)] == ["test"]


def test_urllib3_debug_lines_masked_when_forced_on(
    configured: Configure, local_server: str
) -> None:
    """If someone turns urllib3 debug logging back on, its request line is still redacted."""
    stream = configured(json=True, level="DEBUG")
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.DEBUG)
    token = "ACCESS-TOKEN-4e5f6a7b"
    requests.get(f"{local_server}/cgi-bin/draft/add?access_token={token}", timeout=5)
    output = stream.getvalue()
    assert token not in output
    request_lines = [line for line in lines(stream) if "/cgi-bin/draft/add" in line["event"]]
    assert request_lines
    assert "access_token=***" in request_lines[0]["event"]


def test_chinese_text_stays_unescaped_in_json(configured: Configure) -> None:
    """Chinese text is written as-is in JSON lines, not as \\u escapes."""
    stream = configured(json=True)
    logs.get_logger("test").info("已发布", channel="微信公众号")
    output = stream.getvalue()
    assert "已发布" in output
    assert "微信公众号" in output
    assert "\\u" not in output


def test_timestamp_is_iso_utc_with_offset(configured: Configure) -> None:
    """Each line carries an ISO-8601 timestamp in UTC with an explicit +00:00 offset."""
    stream = configured(json=True)
    logs.get_logger("test").info("tick")
    logging.getLogger("lib").warning("tock")
    for line in lines(stream):
        stamp = datetime.fromisoformat(line["timestamp"])
        assert line["timestamp"].endswith("+00:00")
        assert stamp.utcoffset() == timedelta(0)


def test_configure_twice_keeps_one_handler(configured: Configure) -> None:
    """Calling configure again replaces the handler instead of doubling every line."""
    configured(json=False)
    stream = configured(json=True)
    logs.get_logger("test").info("once")
    assert len([h for h in logging.getLogger().handlers if isinstance(h, logs.RootHandler)]) == 1
    assert [line["event"] for line in lines(stream)] == ["once"]


def test_configure_filters_other_root_handlers(configured: Configure) -> None:
    """A handler someone else put on the root logger gets the RedactingFilter too."""
    foreign_stream = io.StringIO()
    foreign = logging.StreamHandler(foreign_stream)
    root = logging.getLogger()
    root.addHandler(foreign)
    try:
        logs.configure(json=True, stream=io.StringIO())
        logs.get_logger("test").info("structlog line", detail=SECRET)
        logging.getLogger("lib").warning("stdlib line %s", SECRET)
    finally:
        root.removeHandler(foreign)
    assert SECRET not in foreign_stream.getvalue()
    assert "stdlib line ***" in foreign_stream.getvalue()


def test_redacting_filter_on_a_plain_handler() -> None:
    """RedactingFilter masks message, args and traceback for handlers outside structlog."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RedactingFilter(logs.Redactor((SECRET,))))
    logger = logging.getLogger("plain-handler-test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise OSError(f"connect failed to https://u:{SECRET}@h/")
        except OSError:
            logger.exception("retrying %s", f"https://h/?access_token={SECRET}")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    output = stream.getvalue()
    assert SECRET not in output
    assert "retrying https://h/?access_token=***" in output
    assert "OSError: connect failed to https://u:***@h/" in output


@given(
    secret=st.text(min_size=4, max_size=40),
    before=st.text(max_size=40),
    after=st.text(max_size=40),
)
def test_registered_secret_never_survives_redaction(secret: str, before: str, after: str) -> None:
    """For any secret of length >= 4 and any surrounding text, the output lacks the secret."""
    redactor = logs.Redactor((secret,))
    text = f"{before}{secret}{after}"
    assert secret not in redactor.redact_text(text)
    nested = redactor.redact({"k": [text, (before, text)]})
    assert isinstance(nested, dict)
    inner_text, (_, tuple_text) = nested["k"]
    assert secret not in inner_text
    assert secret not in tuple_text
