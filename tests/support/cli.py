"""The `publisher` command as a subprocess on a copy of the shipped project, and its database and log."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.webhook.sandbox import Sink, serve
from tests.support.project import ROOT

PUBLISHER = str(Path(sys.executable).parent / "publisher")
TIMEOUT_SECONDS = 120
XLSX = "samples/food-safety-sampling/food-safety-sampling.xlsx"
HOOK_TOKEN = "cli-hook-token-7Qx9"
OTHER_KINDS = ("wechat", "weibo", "wordpress", "gazette")


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """A copy of schedules.yaml, templates/ and samples/ in tmp_path; returns the config path.

    Every channel but the portal is disabled in the copy: these tests are about the CLI (each
    kind has tests of its own, the gazette's CLI in test_gazette_cli.py), and a live channel
    without its secret would hold the release.
    """
    root = tmp_path / "project"
    root.mkdir()
    text = (ROOT / "schedules.yaml").read_text(encoding="utf-8")
    for kind in OTHER_KINDS:
        text = text.replace(f"    kind: {kind}\n", f"    kind: {kind}\n    enabled: false\n")
    (root / "schedules.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copytree(ROOT / "samples", root / "samples")
    return root / "schedules.yaml"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of every subprocess: a database in tmp_path, no config from outside."""
    values = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}",
              "HOOK_TOKEN": HOOK_TOKEN, "PUBLISHER_ACTOR": "staff:wang"}
    values.pop("PUBLISHER_CONFIG", None)
    return values


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A webhook sink on loopback that keeps what it receives; stopped after."""
    running = serve()
    yield running
    running.stop()


def publisher(config: Path | None, env: dict[str, str], *args: str
              ) -> subprocess.CompletedProcess[str]:
    """Run ``publisher ARGS --config CONFIG`` in the project folder; never raises on exit codes."""
    command = [PUBLISHER, *args] + (["--config", str(config)] if config is not None else [])
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                          timeout=TIMEOUT_SECONDS, cwd=config.parent if config else None)


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in a text file."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def log_rows(config: Path, env: dict[str, str], *filters: str) -> list[dict[str, Any]]:
    """``publisher log --format json`` with ``filters``, one dict per delivery."""
    result = publisher(config, env, "log", "--format", "json", *filters)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def db_rows(tmp_path: Path, query: str) -> list[tuple[Any, ...]]:
    """The rows of ``query`` on the subprocesses' SQLite database in ``tmp_path``."""
    with sqlite3.connect(tmp_path / "db") as connection:
        return list(connection.execute(query))


def with_webhook(config: Path, url: str) -> None:
    """Add channel ``hook-main`` (a webhook to ``url``) to the food-safety release, with a template."""
    edit(config, "  gazette-main:                # 政府公报",
         f"  hook-main:\n    kind: webhook\n    settings:\n      url: {url}\n"
         "      token: ${HOOK_TOKEN}\n  gazette-main:                # 政府公报")
    edit(config, "channels: [portal-main, wechat-main, weibo-main, gazette-main]",
         "channels: [portal-main, wechat-main, weibo-main, gazette-main, hook-main]")
    folder = config.parent / "templates" / "food-safety-sampling"
    shutil.copy2(folder / "memory.txt.j2", folder / "webhook.txt.j2")
