"""The marks in front of an urgent headline: 【演练】 for a drill, then the step's mark, each once."""

from __future__ import annotations

import re

DRILL_MARK = "【演练】"
STEP_MARK = {"report": "", "update": "【续报】", "correction": "【更正】", "withdrawal": "【撤回】"}
_LEADING = re.compile(r"^(?:\s*(?:【\s*(?:演练|续报|更正|撤回)\s*】|\[\s*演练\s*\]))+\s*")


def marks(step: str, *, drill: bool) -> str:
    """What goes in front of the step's headline: ``【演练】【续报】`` for a drill's update."""
    return f"{DRILL_MARK if drill else ''}{STEP_MARK[step]}"


def headline(title: str, *, drill: bool) -> str:
    """The headline staff typed without the marks the bot puts in front of it itself (a drill
    typed as 【演练】… is marked once, not twice). ValueError when an actual post is titled as
    a drill: whether it is one is chosen as its status, and the public must not be told
    otherwise."""
    bare = _LEADING.sub("", title)
    if not bare:
        raise ValueError("标题只有标注，没有内容 / the title holds nothing but marks")
    if not drill and "演练" in title[:len(title) - len(bare)]:
        raise ValueError(f"正式发布的标题不能标注“演练”；演练请选择发布性质 Exercise 或 Test / an "
                         f"actual post's title must not be marked as a drill (“{title[:20]}”); "
                         "choose the status Exercise or Test for a drill")
    return bare
