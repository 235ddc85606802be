"""The README and the configuration reference (docs/configuration.md) cannot drift from the code:
config keys, channel settings, commands, environment."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from channels import registry
from publisher import config as config_module
from publisher.config import checks
from publisher.config.models import SandboxConfig
from publisher.report.settings import CalendarConfig, ReportConfig

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


def _section(title: str, text: str = README) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def _keys(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _documented(section: str) -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


def test_every_config_key_is_documented() -> None:
    """Each key of every config model is a row of the configuration reference, and no row is stale."""
    models: list[type[BaseModel]] = [
        config_module.Config, config_module.Defaults, config_module.RetryPolicy,
        config_module.ChannelConfig, config_module.ColumnSpec, config_module.TableSchema,
        config_module.TableSource, config_module.SourceConfig,
        config_module.ReleaseDefinition, config_module.UrgentConfig,
        config_module.InterpretationConfig, config_module.AlertsConfig,
        config_module.WebConfig, config_module.IntakeConfig, ReportConfig, CalendarConfig,
        checks.ChecksConfig, checks.PersonalDataConfig, checks.LinksConfig,
        checks.FreshnessConfig, checks.DefinitionChecks, config_module.ClusterConfig,
        SandboxConfig]
    keys = set().union(*(_keys(m) for m in models))
    settings = set().union(*(_keys(registry.channel_class(k).settings_model)
                             for k in registry.kinds()))
    documented = _documented(_section("Configuration reference", CONFIGURATION))
    assert keys | settings <= documented, sorted((keys | settings) - documented)
    assert documented <= keys | settings, sorted(documented - keys - settings)


def test_every_command_is_documented() -> None:
    """Each CLI command appears in the commands table."""
    import publisher.cli.content
    import publisher.cli.inspect
    import publisher.cli.run  # noqa: F401
    from publisher.cli import audit_cli, cli

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in cli.registered_commands}
    names |= {f"audit {c.name}" for c in audit_cli.registered_commands}
    commands = _section("Commands")
    for name in names:
        assert f"`publisher {name}" in commands, name


def test_readme_starts_with_the_two_commands() -> None:
    """The first code block is exactly `make run` then `make test`, and both targets exist."""
    block = README.split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines()[1:] if line.strip()]
    assert commands == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run:", makefile, re.MULTILINE) and re.search(r"^test:", makefile, re.MULTILINE)
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().endswith("make test")


def test_every_environment_variable_is_documented() -> None:
    """Each PUBLISHER_* variable the code reads is in the environment table."""
    used = set()
    for path in (ROOT / "publisher").rglob("*.py"):
        used |= set(re.findall(r"\b(PUBLISHER_[A-Z_]+)\b", path.read_text(encoding="utf-8")))
    environment = _section("Configuration reference", CONFIGURATION)
    assert used, "expected the code to read some PUBLISHER_ variables"
    for name in used:
        assert f"`{name}`" in environment, name


def test_the_readme_links_the_configuration_reference() -> None:
    """The README stays a first page: it links the configuration reference instead of holding it."""
    assert "](docs/configuration.md)" in _section("Configuration")
    assert "## Configuration reference" not in README
