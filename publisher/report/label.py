"""The national format's words, verbatim (国办公开办函〔2021〕30号; shared/protocols/annual-report.md)."""

from __future__ import annotations

# section headings (a body may word them otherwise: report.headings in schedules.yaml)
HEADINGS: dict[str, str] = {
    "一": "一、总体情况",
    "二": "二、主动公开政府信息情况",
    "三": "三、收到和处理政府信息公开申请情况",
    "四": "四、政府信息公开行政复议、行政诉讼情况",
    "五": "五、存在的主要问题及改进情况",
    "六": "六、其他需要报告的事项",
}

CONTENT = "信息内容"  # the first column header of every block of section 二

ITEM_ONE = "第二十条第（一）项"
RULE = "规章"
NORMATIVE = "行政规范性文件"
MADE = "本年制发件数"
REPEALED = "本年废止件数"
IN_FORCE = "现行有效件数"

ITEM_FIVE = "第二十条第（五）项"
LICENSING = "行政许可"
DECISIONS = "本年处理决定数量"  # （六）'s column label is inferred from （五）: UNCONFIRMED

ITEM_SIX = "第二十条第（六）项"
PENALTY = "行政处罚"
COERCION = "行政强制"

ITEM_EIGHT = "第二十条第（八）项"
FEES = "行政事业性收费"
FEE_AMOUNT = "本年收费金额（单位：万元）"

# document types a release may declare (report/settings.py DocumentType)
DOCUMENT_TYPE: dict[str, tuple[str, str]] = {
    "rule": (RULE, "rule (规章)"),
    "normative": (NORMATIVE, "normative document"),
    "interpretation": ("政策解读", "policy interpretation (解读)"),
    "repeal_rule": ("废止规章的决定", "decision repealing rules"),
    "repeal_normative": ("废止行政规范性文件的决定", "decision repealing normative documents"),
    "other": ("其他", "other"),
}

NOT_RECORDED = ("未记录", "not recorded")
UNKNOWN = ("无法统计", "unknown")

def heading(key: str, overrides: dict[str, str]) -> str:
    """Section ``key``'s heading, as configured or as the format words it."""
    return overrides.get(key) or HEADINGS[key]
