"""Tests for rendering content templates: strictness, escaping, sandbox, checks, shipped templates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from publisher.render import Renderer, RenderError, thousands, zh_date
from publisher.source import read_table
from tests.support.project import ROOT
from tests.support.render import TEMPLATES, context_for, sample_tables, shipped_config


def write(root: Path, files: dict[str, str]) -> Renderer:
    """A templates folder made of ``files`` (relative path -> text) and its renderer."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return Renderer(root)


# --------------------------------------------------------------------------- strictness


def test_undefined_variable_names_template_and_line(tmp_path: Path) -> None:
    """An undefined variable is a RenderError naming the template file and the line."""
    renderer = write(tmp_path, {"r/portal.html.j2": "<p>ok</p>\n\n<p>{{ release.nope }}</p>\n"})
    with pytest.raises(RenderError) as caught:
        renderer.render("r", "portal", "html", {"release": {}})
    assert (caught.value.template, caught.value.line) == ("r/portal.html.j2", 3)
    assert "r/portal.html.j2:3" in str(caught.value) and "nope" in str(caught.value)


def test_error_inside_a_layout_names_the_layout(tmp_path: Path) -> None:
    """An undefined variable in a shared layout is reported against the layout, not the child."""
    renderer = write(tmp_path, {
        "_layouts/a.html.j2": "<div>\n{% block body %}{% endblock %}\n{{ missing }}\n</div>",
        "r/portal.html.j2": '{% extends "_layouts/a.html.j2" %}\n{% block body %}x{% endblock %}',
    })
    with pytest.raises(RenderError) as caught:
        renderer.render("r", "portal", "html", {})
    assert (caught.value.template, caught.value.line) == ("_layouts/a.html.j2", 3)


def test_missing_template_is_a_render_error(tmp_path: Path) -> None:
    """Asking for a template that does not exist is a RenderError naming it."""
    renderer = write(tmp_path, {"r/portal.html.j2": "x"})
    with pytest.raises(RenderError, match=r"r/wechat\.html\.j2"):
        renderer.render("r", "wechat", "html", {})


def test_title_errors_name_the_given_label(tmp_path: Path) -> None:
    """render_text renders a title string and labels its errors with the name given."""
    renderer = Renderer(tmp_path)
    assert renderer.render_text("{{ a }}<b>", {"a": "<i>"}, "t") == "<i><b>"
    with pytest.raises(RenderError) as caught:
        renderer.render_text("第一行\n{{ period.label }}", {"period": {}}, "releases.x.title")
    assert (caught.value.template, caught.value.line) == ("releases.x.title", 2)


# --------------------------------------------------------------------------- escaping and sandbox


def test_script_in_data_is_escaped_in_html_but_not_in_text(tmp_path: Path) -> None:
    """A <script> value is escaped by .html.j2 templates and left alone by .txt.j2 ones."""
    body = "{% for row in tables.t %}{{ row.name }}|{{ row.name | nl2br }}{% endfor %}"
    renderer = write(tmp_path, {"r/portal.html.j2": body,
                                "r/memory.txt.j2": "{% for row in tables.t %}{{ row.name }}"
                                                   "{% endfor %}"})
    context = {"tables": {"t": [{"name": "<script>alert(1)</script>\n&"}]}}
    html = renderer.render("r", "portal", "html", context)
    assert "<script>" not in html
    assert html == ("&lt;script&gt;alert(1)&lt;/script&gt;\n&amp;|"
                    "&lt;script&gt;alert(1)&lt;/script&gt;<br>&amp;")
    assert renderer.render("r", "memory", "txt", context) == "<script>alert(1)</script>\n&"


@pytest.mark.parametrize("expression", [
    "''.__class__.__mro__", "''.__class__", "x.__globals__", "rows.append(1)", "r.pop('a')",
])
def test_sandbox_blocks_unsafe_access(tmp_path: Path, expression: str) -> None:
    """Dunder access and mutation of the shared context are refused as RenderError."""
    renderer = write(tmp_path, {"r/portal.html.j2": f"ok\n{{{{ {expression} }}}}"})
    context = {"x": zh_date, "rows": [], "r": {"a": 1}}
    with pytest.raises(RenderError) as caught:
        renderer.render("r", "portal", "html", context)
    assert caught.value.template == "r/portal.html.j2" and caught.value.line == 2
    with pytest.raises(RenderError):
        renderer.render_text(f"{{{{ {expression} }}}}", context, "title")
    assert context == {"x": zh_date, "rows": [], "r": {"a": 1}}


# --------------------------------------------------------------------------- check


def test_check_reports_syntax_errors_with_lines(tmp_path: Path) -> None:
    """check() lists each broken template with its line: syntax, unknown filter, missing parent."""
    renderer = write(tmp_path, {
        "r/portal.html.j2": "<p>\n\n{% endif %}\n<p>\n",
        "r/memory.txt.j2": "a\nb\n{{ x | no_such_filter }}",
        "r/weibo.txt.j2": 'x\n{% extends "_layouts/none.j2" %}',
        "r/gazette.xml.j2": "<ok>{{ x | zh_date }}</ok>",
    })
    errors = {e.template: e for e in renderer.check("r")}
    assert sorted(errors) == ["r/memory.txt.j2", "r/portal.html.j2", "r/weibo.txt.j2"]
    assert errors["r/portal.html.j2"].line == 3 and "endif" in str(errors["r/portal.html.j2"])
    assert errors["r/memory.txt.j2"].line == 3 and "no_such_filter" in str(errors["r/memory.txt.j2"])
    assert errors["r/weibo.txt.j2"].line == 2 and "_layouts/none.j2" in str(errors["r/weibo.txt.j2"])
    assert renderer.check("absent")[0].template == "absent"


def test_syntax_error_at_render_names_template_and_line(tmp_path: Path) -> None:
    """A syntax error met while rendering is a RenderError with the template and line."""
    renderer = write(tmp_path, {"r/portal.html.j2": "a\n{{ x }\n"})
    with pytest.raises(RenderError) as caught:
        renderer.render("r", "portal", "html", {"x": 1})
    assert (caught.value.template, caught.value.line) == ("r/portal.html.j2", 2)


# --------------------------------------------------------------------------- filters


def test_filters_format_dates_and_numbers() -> None:
    """zh_date writes 2026年12月2日; thousands groups digits and passes "/" and None through."""
    assert zh_date(date(2026, 12, 2)) == "2026年12月2日"
    assert zh_date("2026-01-09") == "2026年1月9日"
    assert thousands(1234567) == "1,234,567"
    assert thousands(Decimal("10952.9"), 2) == "10,952.90"
    assert thousands("/") == "/" and thousands(None) == ""


# --------------------------------------------------------------------------- shipped templates


def test_shipped_templates_pass_check() -> None:
    """Every shipped template folder and the shared layouts parse cleanly."""
    renderer = Renderer(TEMPLATES)
    folders = ["_layouts", *shipped_config().releases]
    assert [str(e) for folder in folders for e in renderer.check(folder)] == []


@pytest.mark.parametrize("definition_id", sorted(shipped_config().releases))
def test_each_definition_renders_its_samples(definition_id: str) -> None:
    """Every shipped definition renders its sample data through its portal and memory templates."""
    config = shipped_config()
    renderer = Renderer(TEMPLATES)
    tables = sample_tables(config, definition_id)
    html = renderer.render(definition_id, "portal", "html",
                           context_for(config, definition_id, tables, renderer))
    text = renderer.render(definition_id, "memory", "txt",
                           context_for(config, definition_id, tables, renderer, "memory"))
    organ = config.releases[definition_id].issuing_organ
    assert html.startswith('<div class="article">') and "<table" in html
    assert organ in html and "2026年12月2日" in html
    assert organ in text and "<" not in text.replace("<10", "")
    for rows in tables.values():
        first_text = next(v for v in rows[0].values() if isinstance(v, str) and v not in ("", "/"))
        assert first_text.splitlines()[0].split("║")[0] in html


def test_food_safety_notice_follows_the_real_notice() -> None:
    """The food-safety body carries counts, basis, rule, disposal, disclaimer and both tables."""
    config = shipped_config()
    renderer = Renderer(TEMPLATES)
    tables = sample_tables(config, "food-safety-sampling")
    html = renderer.render("food-safety-sampling", "portal", "html",
                           context_for(config, "food-safety-sampling", tables, renderer))
    total = len(tables["unqualified"]) + len(tables["qualified"])
    for fact in (f"食品{total}批次样品", f"合格样品{len(tables['qualified'])}批次",
                 f"不合格样品{len(tables['unqualified'])}批次", "GB 2760-2014", "GB 2762",
                 "个别项目不合格，其产品即判定为不合格产品", "查清产品流向", "召回、下架",
                 "（声明：以下信息仅指本次抽检标称的生产企业相关产品的生产日期/批号和所检项目）",
                 "不合格产品信息", "合格产品信息", "附件"):
        assert fact in html, fact
    assert html.index("（声明") < html.index("<table")
    assert "CFU/g<br>大肠菌群║" in html  # two failure items, one per line


def test_food_safety_week_without_unqualified_says_so_plainly() -> None:
    """With no unqualified batch the notice says 本次抽检未发现不合格产品 and orders no recall."""
    config = shipped_config()
    renderer = Renderer(TEMPLATES)
    tables = {**sample_tables(config, "food-safety-sampling"), "unqualified": []}
    for kind, ext in (("portal", "html"), ("memory", "txt")):
        body = renderer.render("food-safety-sampling", kind, ext,
                               context_for(config, "food-safety-sampling", tables, renderer))
        assert "本次抽检未发现不合格产品" in body and "召回" not in body


def test_food_safety_xlsx_and_csv_samples_render_identically() -> None:
    """Rendering the XLSX workbook and the GB18030 CSV samples gives the same portal body."""
    config = shipped_config()
    renderer = Renderer(TEMPLATES)
    source = config.releases["food-safety-sampling"].source
    assert source is not None
    workbook = ROOT / "samples/food-safety-sampling/food-safety-sampling.xlsx"
    from_xlsx = {name: read_table(workbook, config.schemas[t.table_schema], t.sheet)
                 for name, t in source.tables.items()}
    from_csv = sample_tables(config, "food-safety-sampling")
    bodies = [renderer.render("food-safety-sampling", "portal", "html",
                              context_for(config, "food-safety-sampling", tables, renderer))
              for tables in (from_xlsx, from_csv)]
    assert bodies[0] == bodies[1]


def test_hostile_data_is_escaped_in_the_food_safety_portal_body() -> None:
    """Markup hidden in a data cell reaches the portal body escaped, never as a tag."""
    config = shipped_config()
    renderer = Renderer(TEMPLATES)
    tables = sample_tables(config, "food-safety-sampling")
    hostile = '<script>alert(1)</script>║<img src=x onerror=alert(2)>║"'
    tables["unqualified"] = [{**tables["unqualified"][0], "failures": hostile,
                              "food_name": "<b>x</b>"}]
    html = renderer.render("food-safety-sampling", "portal", "html",
                           context_for(config, "food-safety-sampling", tables, renderer))
    assert "<script" not in html and "<img" not in html and "<b>x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;║&lt;img src=x onerror=alert(2)&gt;" in html
