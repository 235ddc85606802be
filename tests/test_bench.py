"""The benchmarks run end to end and report correct counts (no timing thresholds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.audit_view import main as audit_view_main
from bench.content_checks import main as content_checks_main
from bench.dispatch_throughput import main
from bench.log_page import main as log_page_main
from bench.picture_memory import main as picture_memory_main
from bench.signin_flood import main as signin_flood_main
from bench.urgent_latency import main as urgent_latency_main


def test_quick_benchmark_delivers_every_key_once(capsys: pytest.CaptureFixture[str]) -> None:
    """A --quick run publishes every delivery once and reports positive rates under the expected keys."""
    assert main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    n = result["releases"] * result["channels"]
    assert result["ok"] is True and result["problems"] == []
    assert result["deliveries"] == n
    dispatcher = result["dispatcher"]
    assert dispatcher["published"] == n and dispatcher["sink_keys"] == n
    assert dispatcher["duplicates"] == 0
    for section in ("dispatcher", "plain_1_thread", "plain_w_threads", "memory_channel"):
        assert result[section]["deliveries_per_s"] > 0, section
    assert result["create"]["ms_per_release"] > 0
    assert result["ratio_vs_plain_1_thread"] > 0 and result["ratio_vs_plain_w_threads"] > 0
    memory = result["peak_memory"]
    assert memory["tracemalloc_peak_mib"] > 0 and memory["ru_maxrss_mib"] > 0


def test_quick_urgent_latency_counts_each_channels_calls(capsys: pytest.CaptureFixture[str]) -> None:
    """A --quick urgent-latency run publishes each post once on every channel and takes each
    channel's chain of remote calls from the emulators' own logs."""
    assert urgent_latency_main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["problems"] == []
    [figures] = result["latencies"]
    assert figures["latency_ms"] == 20 and figures["posts"] == 1
    channels = figures["channels"]
    assert sorted(channels) == sorted(result["channels"])
    assert channels["portal-main"]["calls"] == []
    assert channels["weibo-main"]["calls"] == ["2/statuses/share.json"]
    assert channels["hook"]["calls"] == ["POST"]
    wechat = channels["wechat-main"]["calls"]
    assert wechat[:3] == ["material/add_material", "draft/add", "message/mass/sendall"]
    assert wechat[3:] and set(wechat[3:]) == {"message/mass/get"}  # token cached by the warm-up
    assert figures["critical_channel"] == "wechat-main"
    assert figures["critical_path_ms"] == 20 * len(wechat)
    # each emulator sleeps L per call, one after another: no post can beat its chain
    assert figures["measured_ms"] >= figures["critical_path_ms"] and figures["ratio"] >= 1


def test_quick_log_page_bench_matches_its_direct_sql(capsys: pytest.CaptureFixture[str]) -> None:
    """A --quick log-page run fills exactly the attempts asked for, and every timed page returns
    the same rows as its own SQL run directly through sqlite3, in one statement."""
    assert log_page_main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["problems"] == []
    assert result["attempts"] == 20_000 and result["deliveries"] == 5_000
    assert len(result["cases"]) >= 10
    for case in result["cases"]:
        assert case["rows"] > 0, case["case"]
        assert case["function"]["median_ms"] > 0 and case["sql"]["median_ms"] > 0, case["case"]
        assert case["plan"], case["case"]
    assert result["export"]["rows"] > 0 and result["metrics_scrape"]["series"] > 0


def test_quick_annual_report_bench_matches_plain_sql(capsys: pytest.CaptureFixture[str]) -> None:
    """A --quick annual-report run fills exactly the deliveries asked for, and every count it
    makes again in plain SQL equals the report's figure."""
    from bench.annual_report import main as annual_report_main

    assert annual_report_main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["problems"] == []
    assert result["filled"]["deliveries"] == 5_000
    assert result["compared_counts"] > 100 and result["row_ids_carried"] > 5_000
    assert result["report"]["median_s"] > 0 and result["plain_sql"]["median_s"] > 0
    assert result["ratio_time"] > 0 and result["ratio_peak_memory"] > 0


@pytest.mark.slow
def test_quick_picture_memory_bench_refuses_the_huge_png(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """A --quick picture-memory run (each step in its own process) decodes the huge PNG only
    in the "decode" step, refuses it in the "check" step and accepts the camera-sized JPEG."""
    assert picture_memory_main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["png"]["side"] == 9000
    assert result["decode"]["outcome"] == "decoded 9000×9000 RGB"
    assert result["check"]["outcome"].startswith("refused: the picture is 9000×9000 pixels")
    assert result["accepted"]["outcome"] == "accepted 3000×2000"
    assert result["decode"]["added_mib"] > result["check"]["added_mib"]


def test_quick_signin_flood_bench_answers_health_during_the_flood(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A --quick sign-in flood run refuses every fresh name (401) or turns it away (503), audits
    each refusal once, and /healthz answers during the flood."""
    assert signin_flood_main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["problems"] == []
    assert result["checked_401"] + result["busy_503"] == result["flood"] == 8
    assert result["healthz_during_flood"] >= 1 and result["flood_seconds"] > 0


def test_quick_audit_view_bench_recomputes_only_the_new_events(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A --quick audit-view run finds the chain intact both ways, the view's check recomputing
    only the events added after the checkpoint and the full check all of them."""
    assert audit_view_main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["problems"] == []
    assert result["view_checked"] == result["new"] == 10
    assert result["full_checked"] == result["events"] == 510


def test_quick_content_checks_agree_with_naive_matching(capsys: pytest.CaptureFixture[str]) -> None:
    """A --quick content-checks run finds the same list words with the automaton as with naive
    matching, finds the planted wording error, and reports both prepare times."""
    assert content_checks_main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["problems"] == []
    assert result["rows"] == 200 and result["list_entries"] > 1000
    assert result["prepare_ms_without_checks"] > 0 and result["prepare_ms_with_checks"] > 0
    assert result["naive_over_automaton"] > 0


def test_quick_due_query_bench_finds_every_due_row_but_the_held_channel(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A --quick due-query run finds, in each case, the due deliveries of every channel but
    the one an outstanding urgent post holds back, and prints each case's plan."""
    from bench.due_query import main as due_query_main

    assert due_query_main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["problems"] == [] and result["rows"] == 5_000
    assert len(result["cases"]) == 4
    for case in result["cases"]:
        assert 0 < case["found"] <= 100 and case["median_ms"] > 0
        assert any("ix_deliveries_urgent_gate" in line for line in case["plan"]), case["plan"]


def test_log_page_bench_reuses_its_database(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A second log-page run on the same --db reuses the fill and signs in a viewer of its own
    (the first run's account is still there), and its pages still match their SQL."""
    db = tmp_path / "log.db"
    for _ in range(2):
        capsys.readouterr()
        assert log_page_main(["--quick", "--repeat", "1", "--db", str(db), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fill_reused"] is True and result["ok"] is True
    assert all("http" in case for case in result["cases"])


@pytest.mark.slow
def test_quick_cli_startup_bench_times_each_command(capsys: pytest.CaptureFixture[str]) -> None:
    """A --quick start-up run times `python -c pass`, `publisher --help` and `publisher log`
    (each must exit 0) and gives each a ratio to the bare interpreter."""
    from bench.cli_startup import main as cli_startup_main

    assert cli_startup_main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    names = [row["command"] for row in result["commands"]]
    assert names == ["python -c pass", "publisher --help", "publisher log"]
    assert all(row["median_s"] > 0 and row["ratio_to_python"] > 0 for row in result["commands"])
