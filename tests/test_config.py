"""Loading schedules.yaml: the shipped file, and broken files reported whole with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher import config as config_module
from tests.support.project import ROOT


def test_shipped_config_loads() -> None:
    """The shipped schedules.yaml validates, with the four domain definitions."""
    loaded = config_module.load(ROOT / "schedules.yaml")
    assert set(loaded.config.releases) == {
        "food-safety-sampling", "air-quality-forecast", "notifiable-disease-monthly",
        "minimum-living-allowance-quarterly"}
    food = loaded.config.releases["food-safety-sampling"]
    assert food.schedule == "0 10 * * wed"
    kinds = {loaded.config.channels[c].kind for c in food.channels}
    assert kinds == {"portal", "wechat", "weibo", "gazette"}


def _broken(project: Path, old: str, new: str) -> list[str]:
    path = project / "schedules.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(config_module.ConfigError) as info:
        config_module.load(path)
    return [str(p) for p in info.value.problems]


def test_every_problem_is_listed_with_its_line(project: Path) -> None:
    """A file with several problems reports all of them, each with its YAML path and line."""
    problems = _broken(project, 'schedule: "0 10 * * wed"\n',
                       'schedule: "0 10 * * funday"\n    retry_deadline_hours: -3\n')
    text = "\n".join(problems)
    assert "releases.weekly.schedule" in text and "releases.weekly.retry_deadline_hours" in text
    assert all(":" in p.split(" ")[0] for p in problems)  # file:line prefix
    assert any("schedules.yaml:" in p for p in problems)


def test_unknown_channel_and_schema_are_named(project: Path) -> None:
    """References to an undefined channel or schema are named by their YAML path."""
    path = project / "schedules.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[mem-a, mem-b]", "[mem-a, mem-x]")
                    .replace("schema: simple", "schema: nosuch"), encoding="utf-8")
    with pytest.raises(config_module.ConfigError) as info:
        config_module.load(path)
    paths = [p.path for p in info.value.problems]
    assert "releases.weekly.channels.1" in paths
    assert "releases.weekly.source.tables.items.schema" in paths


def test_literal_secret_is_refused(project: Path) -> None:
    """A secret written literally in the config is an error; a ${ENV} reference is accepted."""
    problems = _broken(project, "settings: {max_title_chars: 64}",
                       "settings: {max_title_chars: 64, token: hunter2-secret}")
    assert any("mem-b.settings.token" in p and "${ENV_VAR}" in p for p in problems)
    assert not any("hunter2-secret" in p for p in problems)


def test_invalid_entry_does_not_hide_other_problems(project: Path) -> None:
    """A type error in one channel still lets the releases be cross-checked."""
    path = project / "schedules.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("kind: memory\n    settings: {}", "kind: memory\n    enabled: maybe\n"
                                 "    settings: {}").replace("column: news", "column: sport"),
                    encoding="utf-8")
    loaded, problems = config_module.load_with_problems(path)
    paths = {p.path for p in problems}
    assert "channels.mem-a.enabled" in paths and "releases.weekly.column" in paths
    assert loaded is not None


def test_bad_path_placeholder_is_reported(project: Path) -> None:
    """A data path pattern with an unknown placeholder is reported at load time."""
    problems = _broken(project, "{iso_year}-W{iso_week:02d}.csv", "{isoyear}.csv")
    assert any("source.tables.items.path" in p for p in problems)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    """Broken YAML is reported with its line."""
    path = tmp_path / "s.yaml"
    path.write_text("channels:\n  a: [\n", encoding="utf-8")
    with pytest.raises(config_module.ConfigError) as info:
        config_module.load(path)
    assert info.value.problems[0].line is not None


def test_a_channel_listed_twice_is_named(project: Path) -> None:
    """A release definition naming a channel twice is a problem at the second mention (one
    delivery per channel), not a database error later."""
    problems = _broken(project, "[mem-a, mem-b]", "[mem-a, mem-b, mem-a]")
    assert len(problems) == 1
    assert "releases.weekly.channels.2" in problems[0] and "mem-a" in problems[0]
