"""Configuration problems in staff's words: pydantic's errors in zh-CN first (with English), and
"did you mean" for misspelt keys, names and values."""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Union, get_args, get_origin
from zoneinfo import available_timezones

from pydantic import BaseModel
from pydantic_core import ErrorDetails

MAX_SHOWN_CHARS = 40  # of a value written in the file, quoted in the message
MAX_KNOWN = 30  # known keys listed after an unknown one

# pydantic error type -> (zh-CN, English); {placeholders} come from the error's context
WORDS: dict[str, tuple[str, str]] = {
    "string_type": ("应为文本", "must be text"),
    "int_type": ("应为整数", "must be a whole number"),
    "int_parsing": ("应为整数", "must be a whole number"),
    "int_from_float": ("应为整数，不能有小数", "must be a whole number, without a fraction"),
    "float_type": ("应为数字", "must be a number"),
    "float_parsing": ("应为数字", "must be a number"),
    "bool_type": ("应为 true 或 false", "must be true or false"),
    "bool_parsing": ("应为 true 或 false", "must be true or false"),
    "greater_than_equal": ("不能小于 {ge}", "must be at least {ge}"),
    "greater_than": ("须大于 {gt}", "must be more than {gt}"),
    "less_than_equal": ("不能大于 {le}", "must be at most {le}"),
    "less_than": ("须小于 {lt}", "must be less than {lt}"),
    "string_pattern_mismatch": ("格式不符，应符合 {pattern}", "does not match the pattern {pattern}"),
    "string_too_short": ("至少 {min_length} 个字符", "needs at least {min_length} character(s)"),
    "string_too_long": ("最多 {max_length} 个字符", "takes at most {max_length} character(s)"),
    "too_short": ("至少需要 {min_length} 项", "needs at least {min_length} item(s)"),
    "too_long": ("最多 {max_length} 项", "takes at most {max_length} item(s)"),
    "dict_type": ("应为映射（键: 值）", "must be a mapping (key: value)"),
    "model_type": ("应为映射（键: 值）", "must be a mapping (key: value)"),
    "model_attributes_type": ("应为映射（键: 值）", "must be a mapping (key: value)"),
    "list_type": ("应为列表", "must be a list"),
    "literal_error": ("只能是 {expected}", "must be {expected}"),
    "enum": ("只能是 {expected}", "must be {expected}"),
    "url_parsing": ("不是有效的网址", "is not a valid URL"),
    "url_scheme": ("网址协议只能是 {expected_schemes}", "the URL scheme must be {expected_schemes}"),
}


def suggestion(word: str, known: Iterable[str]) -> str:
    """``；是否应为 "title"？/ did you mean "title"?`` for the known word closest to ``word``
    (difflib), or "" when none is close."""
    close = difflib.get_close_matches(word, sorted(set(known)), n=1, cutoff=0.6)
    if not close:
        return ""
    return f"；是否应为 {close[0]!r}？/ did you mean {close[0]!r}?"


def unknown(what_zh: str, what_en: str, name: str, known: Iterable[str]) -> str:
    """``未定义的渠道 / unknown channel 'x'``, with the closest known name suggested."""
    return f"未定义的{what_zh} / unknown {what_en} {name!r}{suggestion(name, known)}"


def explain(error: ErrorDetails, model: type[BaseModel]) -> str:
    """One validation error of ``model`` as a sentence: zh-CN, then English, then what to do."""
    kind = error["type"]
    loc = tuple(error["loc"])
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    key = str(loc[-1]) if loc else ""
    if kind == "missing":
        return f"缺少必填项 {key} / the required key {key} is missing"
    if kind == "extra_forbidden":
        known = keys_at(model, loc[:-1])
        listed = ", ".join(known[:MAX_KNOWN]) + (", …" if len(known) > MAX_KNOWN else "")
        hint = suggestion(key, known) if known else ""
        tail = f"（可用的键 / known keys: {listed}）" if known else ""
        return f"不认识的键 {key!r} / unknown key {key!r}{hint}{tail}"
    given = _given(error, key)
    if kind == "value_error":
        reason = str(ctx.get("error") or error["msg"])
        zone = re.search(r"unknown timezone '([^']*)'", reason)
        if zone:
            name = zone.group(1)
            return f"未知时区 {name!r} / unknown timezone {name!r}{suggestion(name, _zones())}"
        return f"取值无效 / invalid value: {reason}{given}"
    words = WORDS.get(kind)
    if words is None:
        return f"取值无效 / invalid value: {error['msg']}{given}"
    values = {name: _plain(value) for name, value in ctx.items()}
    try:
        zh, en = words[0].format(**values), words[1].format(**values)
    except (KeyError, IndexError):
        zh, en = words
    hint = ""
    if kind in ("literal_error", "enum") and isinstance(error.get("input"), str):
        hint = suggestion(str(error["input"]), re.findall(r"'([^']*)'", str(ctx.get("expected"))))
    return f"{zh} / {en}{given}{hint}"


def keys_at(model: type[BaseModel], path: Sequence[Any]) -> list[str]:
    """The keys the mapping at ``path`` (a validation location) accepts, as written in the
    file (aliases, e.g. ``schema``); [] where that is not a model."""
    found = _model_at(model, path)
    if found is None:
        return []
    return [field.alias or name for name, field in found.model_fields.items()]


def _model_at(model: type[BaseModel], path: Sequence[Any]) -> type[BaseModel] | None:
    annotation: Any = model
    for step in path:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = next((f for name, f in annotation.model_fields.items()
                          if step in (name, f.alias)), None)
            if field is None:
                return None
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        else:
            return None
    annotation = _unwrap(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) \
        else None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return annotation


def _given(error: ErrorDetails, key: str) -> str:
    """``（写的是 'abc' / given: 'abc'）`` for a short scalar written in the file; never the
    value of a key that names a secret."""
    from publisher.logs import is_sensitive_key

    value = error.get("input")
    if is_sensitive_key(key) or not isinstance(value, str | int | float | bool) or \
            (isinstance(value, str) and len(value) > MAX_SHOWN_CHARS):
        return ""
    return f"（写的是 {value!r} / given: {value!r}）"


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())
