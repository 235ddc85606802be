"""Section 二 in the format's own table: block 第二十条第（一）项 drafted from the releases, the
blocks the bot cannot count named as such, and the other sections it cannot know.

本年制发件数 counts documents *made* in the period (成文日期), not published in it; 本年废止件数
counts repeal decisions published through the bot (each may repeal several documents);
现行有效件数 needs the complete register of documents in force, which the bot does not have.
Every number is a draft for a person to confirm, with the releases it came from.
"""

from __future__ import annotations

from publisher.report import label
from publisher.report.context import Context
from publisher.report.figure import Column, Figure, Sheet, Table, Unknowable, count, ids
from publisher.report.items import first_published
from publisher.store.models import Release

SECTION = "documents"
KINDS = (("rule", label.RULE, "repeal_rule"), ("normative", label.NORMATIVE, "repeal_normative"))

UNKNOWABLE = (
    Unknowable(f"{label.ITEM_FIVE} {label.LICENSING}", "政务服务系统", "the government "
               "services system"),
    Unknowable(f"{label.ITEM_SIX} {label.PENALTY}、{label.COERCION}", "行政执法系统",
               "the law-enforcement system"),
    Unknowable(f"{label.ITEM_EIGHT} {label.FEES}", "财务部门", "the finance office"),
    Unknowable(label.HEADINGS["三"], "依申请公开登记（办理系统）", "the register of applications"),
    Unknowable(label.HEADINGS["四"], "法制部门", "the legal office"),
    Unknowable(label.HEADINGS["五"], "由工作人员撰写", "written by staff"),
    Unknowable("政务新媒体关注人数、阅读量", "各平台的数据统计（未导入）", "each platform's "
               "analytics (not imported)"),
    Unknowable("全市（区、部门）汇总数", "各单位的年度报告", "each body's own report"),
)


def build(ctx: Context) -> None:
    """Add the format's blocks of section 二 and list what the bot cannot know."""
    _item_one(ctx)
    _unknown_block(ctx, "item_five", label.ITEM_FIVE, [label.LICENSING], label.DECISIONS,
                   "政务服务系统", "the government services system")
    _unknown_block(ctx, "item_six", label.ITEM_SIX, [label.PENALTY, label.COERCION],
                   label.DECISIONS, "行政执法系统", "the law-enforcement system")
    _unknown_block(ctx, "item_eight", label.ITEM_EIGHT, [label.FEES], label.FEE_AMOUNT,
                   "财务部门", "the finance office")


def _item_one(ctx: Context) -> None:
    table = Table("item_one", label.ITEM_ONE, f"{label.ITEM_ONE} (rules and normative documents)",
                  [Column("made", label.MADE, "made this year"),
                   Column("repealed", label.REPEALED, "repealed this year"),
                   Column("in_force", label.IN_FORCE, "in force")],
                  first_header_zh=label.CONTENT, first_header_en=label.CONTENT,
                  note_zh="草稿，须人工核对：制发件数按成文日期统计经本系统发布的文件；废止件数为经本系统"
                          "发布的废止决定件数（一件决定可能废止多件文件）；现行有效件数需完整的现行有效"
                          "文件目录，本系统无法统计。",
                  note_en="A draft for a person to confirm: made = documents published through "
                          "the bot whose 成文日期 falls in the period; repealed = repeal "
                          "decisions published through the bot (one may repeal several); in "
                          "force needs the full register, which the bot does not have.")
    ctx.tables.append(table)
    sheet = Sheet(SECTION, table, ctx.figures)
    types = [t for kind, _l, repeal in KINDS for t in (kind, repeal)]
    found = [i for i in first_published(ctx, Release.document_type.in_(types))
             if i.first_at is not None and i.first_at < ctx.end]
    declared = {d.document_type for d in ctx.app.loaded.config.releases.values()}
    for kind, words, repeal in KINDS:
        documents = [i for i in found if i.document_type == kind]
        made = sorted(i.id for i in documents if i.signed_date is not None
                      and ctx.period.first <= i.signed_date <= ctx.period.last)
        undated = sorted(i.id for i in documents if i.signed_date is None
                         and ctx.start <= (i.first_at or ctx.end) < ctx.end)
        repeals = sorted(i.id for i in found if i.document_type == repeal
                         and ctx.start <= (i.first_at or ctx.end) < ctx.end)
        made_figure = count("", "releases", made, "件", "draft")
        if undated:
            made_figure.note_zh = f"另有 {len(undated)} 件本期发布的文件未记录成文日期，未计入"
            made_figure.note_en = f"{len(undated)} more published in the period have no " \
                                  "成文日期 recorded: not counted"
        if repeals or repeal in declared:
            repealed = count("", "releases", repeals, "件", "draft")
        else:
            repealed = Figure("", None, status="unknown",
                              note_zh="废止决定未经本系统发布", note_en="repeal decisions do not "
                              "go through the bot")
        in_force = Figure("", None, "releases", ids(sorted(i.id for i in documents)), "件",
                          "unknown", note_zh="需完整的现行有效文件目录；所列为经本系统发布过的此类文件",
                          note_en="needs the full register; the rows are the documents of "
                                  "this type the bot ever published")
        sheet.row(kind, words, label.DOCUMENT_TYPE[kind][1], made=made_figure,
                  repealed=repealed, in_force=in_force)


def _unknown_block(ctx: Context, table_id: str, block: str, rows: list[str], column: str,
                   source_zh: str, source_en: str) -> None:
    table = Table(table_id, block, block, [Column("value", column, column)],
                  first_header_zh=label.CONTENT, first_header_en=label.CONTENT,
                  note_zh=f"本系统无此数据，请向{source_zh}取得。",
                  note_en=f"The bot has no such data: ask {source_en}.")
    ctx.tables.append(table)
    sheet = Sheet(SECTION, table, ctx.figures)
    for index, words in enumerate(rows):
        sheet.row(f"row{index + 1}", words, words, value=Figure(
            "", None, status="unknown", note_zh=f"来源：{source_zh}", note_en=f"source: "
                                                                          f"{source_en}"))
