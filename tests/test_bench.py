"""The dispatch benchmark runs end to end and reports correct counts (no timing thresholds)."""

from __future__ import annotations

import json

import pytest

from bench.dispatch_throughput import main


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
