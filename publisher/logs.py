"""Structured logging configured in one place, with secrets redacted from every line."""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TextIO
from urllib.parse import quote, quote_plus

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "CONTEXT_KEYS",
    "MASK",
    "QUIET_LOGGERS",
    "REDACTOR",
    "RedactingFilter",
    "Redactor",
    "RootHandler",
    "bind",
    "bound",
    "configure",
    "get_logger",
    "is_sensitive_key",
    "redact",
    "redact_event",
    "redact_text",
    "register_secret",
    "unbind",
]

MASK = "***"
MIN_SECRET_LENGTH = 4
MAX_DEPTH = 32

# The context every dispatch line carries (DESIGN §8).
CONTEXT_KEYS = ("release_id", "channel", "delivery_id", "attempt")

# Loggers that print full request URLs (with access_token=…) or are chatty; pinned by configure().
QUIET_LOGGERS: Mapping[str, int] = {
    "urllib3": logging.WARNING,
    "urllib3.connectionpool": logging.WARNING,
    "requests": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "apscheduler": logging.WARNING,
    "alembic": logging.WARNING,  # "Running upgrade ..." only matters when it fails
}

# Names whose values are secret wherever they appear. Matched as a suffix, so refresh_token,
# component_access_token, client_secret and db_password count; tokens=3 and token_type do not.
_STRONG_NAME = r"(?:token|secret|passwd|password)"
# Names that are secret only as URL query parameters (OAuth code, API keys, signatures);
# as plain words ("code=40001", "status code") they are too common to mask.
_QUERY_ONLY_NAME = r"(?:code|key|[a-z0-9_\-]*_key|apikey|signature|sig)"
_VALUE = r"[^&#\s'\"<>]+"


def _words(*followers: str) -> tuple[str, ...]:
    return tuple(
        f"{word}{follower}"
        for word in ("token", "secret", "passwd", "password")
        for follower in followers
    )


def _rule(triggers: tuple[str, ...], pattern: str) -> tuple[tuple[str, ...], re.Pattern[str]]:
    return triggers, re.compile(pattern, re.IGNORECASE)


# (lower-case substrings of which every match contains one; pattern whose group 1 is kept and
# whose remaining match becomes MASK). The substring test skips the regex scan on most lines.
_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    # scheme://user:password@host
    _rule(("@",), r"(://[^/\s:@'\"]*:)[^/\s@'\"]+(?=@)"),
    # Authorization: Bearer …, 'Authorization': 'Basic …', authorization=…
    _rule(
        ("authorization",),
        r"(authorization['\"]?\s*[:=]\s*['\"]?"
        r"(?:(?:basic|bearer|digest|token|negotiate|ntlm)\s+)?)[^\s'\",;]+",
    ),
    # a bare bearer token outside a header line
    _rule(("bearer",), r"(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"),
    # access_token=…, secret=…, password=… in query strings, form bodies and free text
    _rule(_words("="), rf"({_STRONG_NAME}=){_VALUE}"),
    # ?code=…, &key=…, &signature=… (query strings only)
    _rule(("code=", "key=", "sig=", "signature="), rf"([?&;]{_QUERY_ONLY_NAME}=){_VALUE}"),
    # "password": "…" / 'app_secret': '…' inside JSON or repr() text (quoted value)
    _rule(_words('"', "'"), rf"({_STRONG_NAME}[\"']\s*:\s*([\"']))(?:\\.|(?!\2).)*"),
    # … and unquoted values: numbers, b'…' bytes, bare words
    _rule(_words('"', "'"), rf"({_STRONG_NAME}[\"']\s*:\s*)(?![\"'\s])[^\s,}}\]]+"),
)
_REPLACEMENT = rf"\g<1>{MASK}"

_SENSITIVE_KEYS = frozenset(
    {
        "access_token",
        "token",
        "secret",
        "appsecret",
        "app_secret",
        "password",
        "passwd",
        "client_secret",
        "signature",
        "api_key",
        "apikey",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
    }
)
_SENSITIVE_KEY_SUFFIXES = ("token", "secret", "password", "passwd")


def is_sensitive_key(name: str) -> bool:
    """Whether a mapping key names a secret (``app_secret``, ``Authorization``, ``db_password``)."""
    normal = name.lower().replace("-", "_")
    return normal in _SENSITIVE_KEYS or normal.endswith(_SENSITIVE_KEY_SUFFIXES)


class Redactor:
    """Masks registered secret values and secret-shaped text (URL tokens, auth headers)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._secret_pattern: re.Pattern[str] | None = None
        for value in secrets:
            self.register_secret(value)

    def register_secret(self, value: str) -> None:
        """Remember a secret value (and its URL-encoded forms); values under 4 chars are ignored."""
        if len(value) < MIN_SECRET_LENGTH:
            return
        forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
        with self._lock:
            merged = self._secrets | forms
            if merged == self._secrets:
                return
            # Longest first, so a secret that contains another is masked whole.
            alternatives = sorted(merged, key=len, reverse=True)
            pattern = re.compile("|".join(re.escape(s) for s in alternatives))
            self._secrets = merged
            self._secret_pattern = pattern

    @property
    def secret_count(self) -> int:
        """How many secret forms are registered."""
        return len(self._secrets)

    def redact_text(self, text: str) -> str:
        """Return *text* with every secret masked as ``***``."""
        if not text:
            return text
        # Registered values first: a shape rule run before them could mask only a prefix
        # (a bearer pattern stops at "!") and leave the rest of the secret readable.
        secret_pattern = self._secret_pattern
        if secret_pattern is not None:
            # Masking can splice the text around a match into a new occurrence
            # ("a" + "a***" → "a***"); repeat until none is left. Each pass shortens the text.
            text, count = secret_pattern.subn(MASK, text)
            while count:
                text, count = secret_pattern.subn(MASK, text)
        lowered = text.lower()
        for triggers, pattern in _RULES:
            if any(map(lowered.__contains__, triggers)):
                text = pattern.sub(_REPLACEMENT, text)
        return text

    def redact(self, value: object, _depth: int = 0) -> object:
        """Return *value* with secrets masked in strings, containers and object reprs."""
        if isinstance(value, str):
            return self.redact_text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if _depth < MAX_DEPTH:
            depth = _depth + 1
            if isinstance(value, Mapping):
                return {
                    self.redact(key, depth): self.redact_field(key, item, depth)
                    for key, item in value.items()
                }
            if isinstance(value, list | tuple | set | frozenset):
                items = [self.redact(item, depth) for item in value]
                if isinstance(value, list):
                    return items
                if isinstance(value, frozenset):
                    return frozenset(items)
                if isinstance(value, set):
                    return set(items)
                return tuple(items)
        # Anything else is rendered with repr() by the renderers; mask that text if needed.
        try:
            text = repr(value)
        except Exception:  # a broken __repr__ must not break logging
            return f"<unrepresentable {type(value).__name__}>"
        masked = self.redact_text(text)
        return value if masked == text else masked

    def redact_field(self, key: object, value: object, _depth: int = 0) -> object:
        """Redact *value* stored under *key*: all of it when the key names a secret."""
        if isinstance(key, str) and is_sensitive_key(key) and not _is_blank(value):
            return MASK
        return self.redact(value, _depth)


def _is_blank(value: object) -> bool:
    """None, a flag or an empty string: nothing secret to hide, and useful to see."""
    return value is None or isinstance(value, bool) or (isinstance(value, str) and not value)


REDACTOR = Redactor()


def register_secret(value: str) -> None:
    """Register a secret value with the default redactor (call at start for every secret)."""
    REDACTOR.register_secret(value)


def redact(value: object) -> object:
    """Mask secrets in any value with the default redactor (for the audit log, DB error text)."""
    return REDACTOR.redact(value)


def redact_text(text: str) -> str:
    """Mask secrets in a string with the default redactor."""
    return REDACTOR.redact_text(text)


def redact_event(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Structlog processor: mask secrets in every value, including rendered tracebacks."""
    for key, value in event_dict.items():
        if key != "_record":
            event_dict[key] = REDACTOR.redact_field(key, value)
    return event_dict


class RedactingFilter(logging.Filter):
    """Stdlib filter masking secrets in a record's message, args and traceback text."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = REDACTOR if redactor is None else redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite *record* in place; never drops it."""
        msg: object = record.msg
        if isinstance(msg, dict):
            # A structlog event on its way to ProcessorFormatter.
            record.msg = self.redactor.redact(msg)
        else:
            try:
                message = record.getMessage()
            except Exception:  # malformed %-args: let logging report it, but mask the parts
                record.msg = self.redactor.redact(msg)
                if isinstance(record.args, tuple):
                    record.args = tuple(self.redactor.redact(arg) for arg in record.args)
            else:
                masked = self.redactor.redact_text(message)
                if masked != message:
                    record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact_text(record.stack_info)
        return True


def add_timestamp(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Structlog processor: ISO-8601 UTC timestamp with an explicit ``+00:00`` offset."""
    record = event_dict.get("_record")
    seconds = record.created if isinstance(record, logging.LogRecord) else time.time()
    stamp = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    event_dict["timestamp"] = stamp
    return event_dict


class RootHandler(logging.StreamHandler[TextIO]):
    """The one root handler; with no explicit stream it writes to the current ``sys.stderr``."""

    def __init__(self, stream: TextIO | None) -> None:
        self._fixed_stream = stream
        super().__init__(stream)

    @property
    def stream(self) -> TextIO:
        return sys.stderr if self._fixed_stream is None else self._fixed_stream

    @stream.setter
    def stream(self, value: TextIO) -> None:
        if value is not sys.stderr:
            self._fixed_stream = value


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    add_timestamp,
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
    redact_event,
]
_configure_lock = threading.Lock()


def configure(*, json: bool, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send structlog and stdlib logging through one redacting root handler; safe to repeat."""
    renderer: Processor
    if json:
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=_is_tty(sys.stderr if stream is None else stream),
            exception_formatter=structlog.dev.plain_traceback,
        )
    handler = RootHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    with _configure_lock:
        root = logging.getLogger()
        for old in [h for h in root.handlers if isinstance(h, RootHandler)]:
            root.removeHandler(old)
        for other in root.handlers:
            # Handlers installed by others (pytest's caplog, a file handler) get the filter.
            if not any(isinstance(f, RedactingFilter) for f in other.filters):
                other.addFilter(RedactingFilter())
        root.addHandler(handler)
        root.setLevel(level.upper())
        for name, quiet_level in QUIET_LOGGERS.items():
            logging.getLogger(name).setLevel(quiet_level)
        structlog.configure(
            processors=[
                structlog.stdlib.filter_by_level,
                structlog.stdlib.PositionalArgumentsFormatter(),
                *_SHARED,
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            wrapper_class=structlog.stdlib.BoundLogger,
            logger_factory=structlog.stdlib.LoggerFactory(),
            context_class=dict,
            # Not cached: module-level loggers must follow a later configure() or capture_logs().
            cache_logger_on_first_use=False,
        )


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A typed logger; configures console/JSON output by TTY if configure() was not called yet."""
    if not structlog.is_configured():
        configure(json=not _is_tty(sys.stderr))
    return structlog.stdlib.get_logger(name) if name else structlog.stdlib.get_logger()


def bind(**values: object) -> None:
    """Bind context (release_id, channel, delivery_id, attempt, …) to every later line."""
    structlog.contextvars.bind_contextvars(**values)


def unbind(*keys: str) -> None:
    """Remove context keys bound with bind()."""
    structlog.contextvars.unbind_contextvars(*keys)


@contextlib.contextmanager
def bound(**values: object) -> Iterator[None]:
    """Bind context for the duration of a ``with`` block, restoring the previous values after."""
    with structlog.contextvars.bound_contextvars(**values):
        yield
