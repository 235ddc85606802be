"""The fault campaign in a bounded size: SIGKILLs and network faults lose and double nothing.

One campaign (tests/support/campaign.py) runs for the whole module: emulators in their own
process behind fault proxies, ``publisher run`` killed a few times at random moments on
SQLite while releases fall due every few seconds and urgent posts are filed, then every
publication is counted at the emulators. The full size (40 kills on SQLite, 20 on
PostgreSQL) is ``make campaign``. ``CAMPAIGN_SEED`` replays a run; the seed is printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.campaign import Plan, Result, run

pytestmark = pytest.mark.slow
SEED = int(os.environ.get("CAMPAIGN_SEED", "20261202"))
KILLS = 4


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Result:
    folder: Path = tmp_path_factory.mktemp("campaign")
    result = run(Plan(seed=SEED, kills=KILLS, fault_rate=0.2, settle_limit_seconds=150.0), folder)
    print(result.table())
    return result


def test_the_bot_was_killed_under_faults(campaign: Result) -> None:
    """The campaign really killed the daemon, faulted requests and published on every kind."""
    table = campaign.table()
    assert campaign.kills == KILLS, table
    assert sum(per_kind["requests"] for per_kind in campaign.faults.values()) > 0, table
    assert sum(sum(v for k, v in per_kind.items() if k != "requests")
               for per_kind in campaign.faults.values()) > 0, table
    assert set(campaign.publications) == {"portal", "webhook", "wordpress", "weibo",
                                          "wechat", "gazette"}, table


def test_nothing_lost(campaign: Result) -> None:
    """Every release × channel is published once at its emulator or failed with a reason;
    nothing made before the last daemon started is left outstanding."""
    table = campaign.table()
    assert campaign.count("lost") == 0, table
    assert campaign.count("unsettled") == 0, table
    assert campaign.count("no reason") == 0, table


def test_nothing_published_twice_or_misrecorded(campaign: Result) -> None:
    """No emulator holds two live copies of one release, or one the bot has no record of, and
    nothing only queued (the gazette's next issue) is recorded as published."""
    table = campaign.table()
    assert campaign.count("duplicates") == 0, table
    assert campaign.count("unrecorded") == 0, table
    assert campaign.count("misrecorded") == 0, table


def test_every_fire_time_is_accounted_for(campaign: Result) -> None:
    """Each fire time between the first start and the last stop is a release or a recorded
    missed run, however the restarts fell."""
    assert campaign.fire_times > 0, campaign.table()
    assert campaign.count("fire times unaccounted") == 0, campaign.table()


def test_no_secret_reaches_the_logs(campaign: Result) -> None:
    """No credential shows in what the bot and the CLI wrote, through every fault and kill."""
    assert campaign.count("secret in log") == 0, campaign.table()
