"""The one shape of the kinds' error tables: WeChat and Weibo rows are the same rule type."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from channels.base import ChannelError, PermanentChannelError
from channels.error_table import ErrorRule, by_code, row
from channels.wechat import errors as wechat
from channels.weibo import errors as weibo


@pytest.mark.parametrize("table", [wechat.CODES, weibo.TABLE], ids=["wechat", "weibo"])
def test_every_kind_table_is_rows_of_one_shape(table: Mapping[int, ErrorRule]) -> None:
    """Each row of each kind's table is an ErrorRule keyed by its own code, with a name, both
    languages and, where one is raised, a channel error class."""
    assert table
    for code, rule in table.items():
        assert isinstance(rule, ErrorRule) and rule.code == code
        assert rule.name and rule.decision and rule.explanation_zh and rule.explanation_en
        assert rule.error is None or issubclass(rule.error, ChannelError)


def test_a_code_listed_twice_is_a_mistake_in_the_table() -> None:
    """by_code refuses a table that lists one code twice (the second row would hide the first)."""
    first = row(1, "one", "stop", "一", "one", PermanentChannelError)
    with pytest.raises(ValueError, match="error code 1 is listed twice"):
        by_code([first, row(1, "again", "retry", "二", "again")])
    assert by_code([first]) == {1: first}
