"""Shared fixtures: databases on SQLite and PostgreSQL, a small project config, a manual clock."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from publisher import config as config_module
from publisher.app import App
from publisher.clock import ManualClock
from publisher.store import Store
from tests.support import pg
from tests.support.project import PROJECT_YAML, SHANGHAI, TEMPLATE

pytest_plugins = ["tests.support.api",  # api: the urgent App's HTTP API with a token per role
                  "tests.support.browser",  # the page and browser fixtures of the browser tests
                  "tests.support.console",  # console_app, console, cheap_hashing: the staff console
                  "tests.support.report_history",  # a year of history for the annual report's tests
                  "tests.support.cli",  # shipped, env, sink: the command on a copy of the project
                  "tests.support.logs",  # log_stream: every log line as rendered
                  "tests.support.urgent"]  # urgent_app: the small project with an urgent section


@pytest.fixture(autouse=True, scope="session")
def _private_sandbox() -> Iterator[None]:
    """Each --sandbox App of the run (and the processes it starts) runs emulators of its own,
    not the shared sandbox service a copied schedules.yaml names, from the session's start, so
    that module-scoped fixtures (the accessibility world) start no detached service either;
    tests of the service unset it for themselves."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUBLISHER_SANDBOX", "private")
        yield


@pytest.fixture(autouse=True)
def _fresh_weibo_windows() -> Iterator[None]:
    """Each test starts with no Weibo posting history: limiters are process-wide, keyed by
    account and API address, and a new emulator can reuse an old one's port."""
    from channels.weibo.limiter import forget_all

    forget_all()
    yield
    forget_all()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database made for this test run and dropped after it."""
    with pg.own_database("publisher_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on the embedded SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'publisher.db'}"
    url: str = request.getfixturevalue("pg_database")
    pg.reset_pg(url)
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    yield s
    s.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project folder: config with two memory channels, a template and one week's data."""
    root = tmp_path / "project"
    (root / "templates" / "weekly").mkdir(parents=True)
    (root / "templates" / "weekly" / "memory.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    (root / "inbox" / "weekly").mkdir(parents=True)
    (root / "inbox" / "weekly" / "2026-W49.csv").write_text(
        "项目,数量\n苹果,3\n梨,5\n", encoding="utf-8")
    (root / "schedules.yaml").write_text(PROJECT_YAML, encoding="utf-8")
    return root


@pytest.fixture
def app(project: Path, store: Store, clock: ManualClock) -> Iterator[App]:
    """An App on the small project, the parametrised store and a manual clock."""
    from channels.memory.adapter import MemoryStore

    MemoryStore.reset()
    loaded = config_module.load(project / "schedules.yaml")
    yield App(loaded=loaded, store=store, clock=clock)
    MemoryStore.reset()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item, so fixtures can tell a failed test (the
    browser fixture then keeps a screenshot)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def real_wordpress() -> Iterator[object]:
    """Debian's WordPress on Apache and MariaDB, installed fresh on a loopback port for this
    test run and removed after it (tests/support/wordpress_site.py). Never skipped: ``make``
    installs the packages (setup/debian-packages.txt); what is missing fails the test."""
    from tests.support import wordpress_site

    problems = wordpress_site.missing()
    if problems:
        pytest.fail("the real WordPress cannot run here: " + "; ".join(problems))
    with wordpress_site.site() as site:
        yield site
