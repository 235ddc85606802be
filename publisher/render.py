"""Renders content templates (sandboxed, strict Jinja2) into message bodies and titles.

Templates live in ``templates/<folder>/<channel kind>.<ext>.j2`` (folder = the release
definition id, or its ``templates:`` setting); shared layouts in ``templates/_layouts/``;
partials whose names start with ``_`` hold macros shared by one folder's templates.
``.html.j2`` and ``.xml.j2`` templates are autoescaped; ``.txt.j2`` templates and titles are not.

The context every template receives (the core builds it)::

    release: {key, definition_id, title, issuing_organ, organ_code, subject_category, column,
              column_name, document_number (str or None), index_number,
              published_date (date), signed_date (date), urgent (bool)}
    period:  Period.as_context(): year, month, day, quarter, iso_year, iso_week, date,
             start, end (dates), unit, label (e.g. "2026年第49周")
    tables:  {table name: list of rows, each a dict keyed by column id; every schema column
              is present: text as str ("" when blank, "/" = not applicable), int as int,
              number as Decimal, date as date; "/" stays "/" in any column; an optional
              typed column left blank is None}
    channel: {name, kind}

Filters: ``zh_date`` (2026年12月2日), ``thousands`` (1,234 / ``thousands(2)`` 1,234.50),
``lines`` (a cell's non-blank lines), ``fields`` (split on ║ or ||), and in markup templates
``nl2br`` (escape, then line breaks as ``<br>``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

MARKUP_SUFFIXES = (".html.j2", ".xml.j2")
STRING_TEMPLATE = "<template>"  # the file name Jinja gives templates made from strings
_FIELD_SEPARATOR = re.compile(r"\s*(?:║|\|\||‖|∥)\s*")


class RenderError(Exception):
    """A template failed to parse or render; names the template (relative path) and the line."""

    def __init__(self, template: str, line: int | None, detail: str) -> None:
        self.template = template
        self.line = line
        self.detail = detail
        where = f"{template}:{line}" if line else template
        super().__init__(f"模板错误 / template error: {where}: {detail}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.template, self.line, self.detail))


# --------------------------------------------------------------------------- filters


def zh_date(value: date | str) -> str:
    """A date as Chinese documents write it: ``2026年12月2日`` (accepts ISO strings too)."""
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return f"{day.year}年{day.month}月{day.day}日"


def thousands(value: Any, decimals: int | None = None) -> str:
    """Numbers with thousands separators; text (such as "/") unchanged, None as ""."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return f"{value:,.{decimals}f}" if decimals is not None else f"{value:,}"
    return str(value)


def lines(value: Any) -> list[str]:
    """The non-blank lines of a cell, stripped (items of the failures cell)."""
    return [line.strip() for line in str(value).splitlines() if line.strip()]


def fields(value: Any) -> list[str]:
    """The fields of one item, split on ║ (or ||, ‖, ∥)."""
    return _FIELD_SEPARATOR.split(str(value).strip())


def nl2br(value: Any) -> Markup:
    """Escaped text with its line breaks as ``<br>`` (markup templates only)."""
    return Markup("<br>").join(escape(line) for line in str(value).splitlines())


FILTERS: dict[str, Callable[..., Any]] = {
    "zh_date": zh_date, "thousands": thousands, "lines": lines, "fields": fields,
}


# --------------------------------------------------------------------------- renderer


class Renderer:
    """Renders one templates folder tree; markup and text templates get separate environments."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = Path(templates_dir)
        self._root = self.templates_dir.resolve()
        self.markup = self._environment(autoescape=True)
        self.text = self._environment(autoescape=False)
        self.markup.filters["nl2br"] = nl2br

    def _environment(self, *, autoescape: bool) -> ImmutableSandboxedEnvironment:
        env = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(str(self.templates_dir), encoding="utf-8"),
            undefined=StrictUndefined,
            autoescape=autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(FILTERS)
        return env

    def environment_for(self, name: str) -> ImmutableSandboxedEnvironment:
        """The markup environment for .html.j2/.xml.j2 names, the text one otherwise."""
        return self.markup if name.endswith(MARKUP_SUFFIXES) else self.text

    def template_path(self, folder: str, kind: str, ext: str) -> Path:
        """Where the template for ``folder`` × channel ``kind`` × ``ext`` lives."""
        return self.templates_dir / folder / f"{kind}.{ext}.j2"

    def render(self, folder: str, kind: str, ext: str, context: Mapping[str, Any]) -> str:
        """Render ``templates/<folder>/<kind>.<ext>.j2``; RenderError on any failure."""
        name = f"{folder}/{kind}.{ext}.j2"
        env = self.environment_for(name)
        try:
            return env.get_template(name).render(dict(context))
        except Exception as exc:
            raise self._error(exc, name) from exc

    def render_text(self, source: str, context: Mapping[str, Any], name: str) -> str:
        """Render a template string (a release title) as plain text; ``name`` labels errors."""
        try:
            return self.text.from_string(source).render(dict(context))
        except Exception as exc:
            raise self._error(exc, name) from exc

    def check(self, folder: str) -> list[RenderError]:
        """Parse every template in ``folder``: syntax, unknown filters, missing referenced files."""
        base = self.templates_dir / folder
        if not base.is_dir():
            return [RenderError(folder, None, "模板目录不存在 / template folder not found")]
        errors: list[RenderError] = []
        for path in sorted(base.rglob("*.j2")):
            name = path.relative_to(self.templates_dir).as_posix()
            env = self.environment_for(name)
            try:
                source = path.read_text(encoding="utf-8")
                env.compile(source, name, str(path))  # syntax, unknown filters and tests
                tree = env.parse(source, name, str(path))
            except (TemplateSyntaxError, UnicodeDecodeError) as exc:
                errors.append(self._error(exc, name))
                continue
            errors += self._missing_references(env, name, tree)
        return errors

    def _missing_references(
        self, env: ImmutableSandboxedEnvironment, name: str, tree: nodes.Template
    ) -> list[RenderError]:
        errors: list[RenderError] = []
        for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            assert isinstance(node, nodes.Extends | nodes.Include | nodes.Import | nodes.FromImport)
            target = node.template
            if getattr(node, "ignore_missing", False) or not (
                isinstance(target, nodes.Const) and isinstance(target.value, str)
            ):
                continue
            try:
                assert env.loader is not None
                env.loader.get_source(env, target.value)
            except TemplateNotFound:
                errors.append(RenderError(
                    name, node.lineno,
                    f"引用的模板不存在 / referenced template not found: {target.value}"))
        return errors

    def _error(self, exc: BaseException, name: str) -> RenderError:
        """Turn any failure into a RenderError naming the template and line it happened in."""
        if isinstance(exc, RenderError):
            return exc
        if isinstance(exc, TemplateSyntaxError):
            return RenderError(exc.name or name, exc.lineno, f"语法错误 / syntax error: {exc.message}")
        if isinstance(exc, TemplateNotFound):
            return RenderError(name, None, f"模板不存在 / template not found: {exc.name}")
        if isinstance(exc, UnicodeDecodeError):
            return RenderError(name, None, f"模板不是 UTF-8 / template is not UTF-8: {exc}")
        template, line = self._innermost_template_frame(exc.__traceback__)
        if isinstance(exc, UndefinedError):
            detail = f"未定义的变量 / undefined: {exc.message}"
        elif isinstance(exc, SecurityError):
            detail = f"沙箱禁止的操作 / blocked by the sandbox: {exc}"
        else:
            detail = f"渲染失败 / render failed: {type(exc).__name__}: {exc}"
        return RenderError(template or name, line, detail)

    def _innermost_template_frame(
        self, tb: TracebackType | None
    ) -> tuple[str | None, int | None]:
        template: str | None = None
        line: int | None = None
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            relative = self._relative(filename)
            if relative is not None:
                template, line = relative, tb.tb_lineno
            tb = tb.tb_next
        return template, line

    def _relative(self, filename: str) -> str | None:
        """A frame's template relative to the templates folder; "" for a string template."""
        if filename == STRING_TEMPLATE:
            return ""
        if not filename.endswith(".j2"):
            return None
        try:
            return Path(filename).resolve().relative_to(self._root).as_posix()
        except ValueError:
            return None
