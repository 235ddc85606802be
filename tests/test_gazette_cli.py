"""The gazette through the real entry point: queued, compiled, published, and guarded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.project import ROOT

PUBLISHER = str(Path(sys.executable).parent / "publisher")
XLSX = "samples/food-safety-sampling/food-safety-sampling.xlsx"
pytestmark = pytest.mark.slow


def _run(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PUBLISHER, *args, "--config", str(project / "schedules.yaml")],
                          env=env, capture_output=True, text=True, timeout=120, check=False,
                          cwd=project)


def test_item_waits_for_its_issue_then_the_issue_is_immutable(tmp_path: Path) -> None:
    """A release's gazette delivery is queued for the next issue, compiling publishes it, and
    altering the published file makes `publisher check` fail naming the file."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("schedules.yaml", "templates", "samples"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / name)
    env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"}
    env.pop("PUBLISHER_CONFIG", None)

    trigger = _run(project, env, "trigger", "food-safety-sampling", "--sandbox", "--data", XLSX)
    assert trigger.returncode == 0, trigger.stderr
    assert "gazette-main     queued" in trigger.stdout and "2026年第1期" in trigger.stdout
    queued = _run(project, env, "log", "--channel", "gazette-main", "--format", "json")
    (row,) = [json.loads(line) for line in queued.stdout.splitlines()]
    assert row["state"] == "queued" and "queued for" in row["detail"]

    dry = _run(project, env, "gazette", "compile", "--dry-run")
    assert dry.returncode == 0 and "（预览）2026年第1期" in dry.stdout
    assert not (project / "var" / "site" / "gazette").exists()

    compiled = _run(project, env, "gazette", "compile")
    assert compiled.returncode == 0, compiled.stderr
    assert "1 项投递完成" in compiled.stdout
    done = _run(project, env, "log", "--channel", "gazette-main", "--format", "json")
    (row,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert row["state"] == "published" and row["url"].endswith("gazette/2026-01.html#item-1")
    shown = json.loads(_run(project, env, "gazette", "show", "2026-1", "--format", "json").stdout)
    assert shown["issue"]["intact"] and shown["queued_for"].startswith("2026年第2期")
    again = _run(project, env, "gazette", "compile")
    assert again.returncode == 1 and "nothing is queued" in again.stderr

    assert _run(project, env, "check").returncode == 0
    page = project / "var" / "site" / "gazette" / "2026-01.html"
    page.write_text(page.read_text(encoding="utf-8") + "<!-- edited -->", encoding="utf-8")
    check = _run(project, env, "check")
    assert check.returncode == 1 and "gazette/2026-01.html" in check.stderr
    events = [json.loads(line) for line in _run(project, env, "audit", "export").stdout.splitlines()]
    compiled_events = [e for e in events if e["action"] == "gazette.compiled"]
    assert len(compiled_events) == 1 and "gazette/2026-01.html" in compiled_events[0]["details"]["files"]
    assert _run(project, env, "audit", "verify").returncode == 0
