"""The fault proxy (tests/support/fault_proxy.py) injects each fault between a client and a real sink."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from channels.network import may_have_landed
from channels.webhook.sandbox import Sink, serve
from tests.support import fault_proxy
from tests.support.fault_proxy import FaultProxy, Rule

TIMEOUT = 1.5  # an unhindered request answers well within it, even on a loaded machine
HELD = TIMEOUT + 1.5


@pytest.fixture
def sink() -> Iterator[Sink]:
    running = serve()
    yield running
    running.stop()


@pytest.fixture
def proxy(sink: Sink) -> Iterator[FaultProxy]:
    running = fault_proxy.serve(sink.url)
    yield running
    running.stop()


def _post(proxy: FaultProxy, key: str) -> requests.Response:
    return requests.post(f"{proxy.url.rstrip('/')}/deliveries", json={"key": key, "title": "t"},
                         headers={"Idempotency-Key": key}, timeout=TIMEOUT)


def test_requests_without_a_rule_pass_unchanged(proxy: FaultProxy, sink: Sink) -> None:
    """With no rule the answer is the sink's own, and the sink saw the request once."""
    answer = _post(proxy, "k1")
    assert answer.status_code == 201 and sink.state.count("k1") == 1
    assert proxy.state.seen[-1].fault is None and proxy.state.seen[-1].forwarded


def test_delay_lets_the_client_time_out_then_delivers(proxy: FaultProxy, sink: Sink) -> None:
    """A held request times out at the client (an answer that may have landed) and still
    reaches the sink afterwards."""
    proxy.state.add(Rule("delay", "POST", r"/deliveries$", seconds=HELD))
    with pytest.raises(requests.ReadTimeout) as info:
        _post(proxy, "k2")
    assert may_have_landed(info.value)
    assert sink.state.count("k2") == 0  # still on its way when the client gave up
    assert proxy.state.wait("delay", timeout=10)
    assert sink.state.count("k2") == 1


def test_late_answer_and_drop_reach_the_sink(proxy: FaultProxy, sink: Sink) -> None:
    """The sink acts at once; the answer comes after the client's timeout, or never."""
    proxy.state.add(Rule("late_answer", seconds=HELD), Rule("drop"))
    with pytest.raises(requests.ReadTimeout):
        _post(proxy, "k3")
    with pytest.raises(requests.ConnectionError) as info:
        _post(proxy, "k4")
    assert may_have_landed(info.value)
    assert sink.state.count("k3") == 1 and sink.state.count("k4") == 1


def test_reset_and_error_never_reach_the_sink(proxy: FaultProxy, sink: Sink) -> None:
    """A reset and a gateway error are answered by the proxy alone; rules are used up."""
    proxy.state.add(Rule("reset", times=1), Rule("error", status=502, times=1))
    with pytest.raises(requests.ConnectionError):
        _post(proxy, "k5")
    assert _post(proxy, "k6").status_code == 502
    assert _post(proxy, "k7").status_code == 201
    assert sink.state.count("k5") == 0 and sink.state.count("k6") == 0
    assert [s.fault for s in proxy.state.seen] == ["reset", "error", None]


def test_rules_over_http_for_another_process(proxy: FaultProxy, sink: Sink) -> None:
    """Rules posted to /_fault_proxy/rules apply; a bad rule is refused (400)."""
    control = f"{proxy.origin}/_fault_proxy/rules"
    assert requests.post(control, data=json.dumps([{"fault": "nope"}]), timeout=5).status_code \
        == 400
    report = requests.post(control, data=json.dumps([{"fault": "error", "status": 503}]),
                           timeout=5).json()
    assert report["rules"][0]["fault"] == "error"
    assert _post(proxy, "k8").status_code == 503 and sink.state.count("k8") == 0


def test_refused_connection_never_left() -> None:
    """A refused connection (nothing listening) is read as never sent: a plain retry."""
    stopped = serve()
    url = stopped.url
    stopped.stop()
    with pytest.raises(requests.ConnectionError) as info:
        requests.post(f"{url}/deliveries", json={}, timeout=TIMEOUT)
    assert not may_have_landed(info.value)


def test_a_spared_request_meets_the_next_rule() -> None:
    """A campaign's rules (one per fault, each with a chance) hit about the share asked for,
    every fault about equally: a request one rule spared is offered to the next."""
    from collections import Counter
    from random import Random

    from tests.support.emulators import fault_rules
    from tests.support.fault_proxy import FAULTS, ProxyState

    state = ProxyState(upstream="http://127.0.0.1:1", rng=Random(5))
    state.add(*fault_rules(0.2, held_seconds=1.0))
    hits = Counter(rule.fault if rule else None
                   for rule in (state.take("POST", "/x") for _ in range(20_000)))
    assert 0.18 < 1 - hits[None] / 20_000 < 0.22
    assert all(600 < hits[fault] < 1000 for fault in FAULTS), hits


def test_a_request_cut_short_is_not_forwarded(proxy: FaultProxy, sink: Sink) -> None:
    """A client that dies after its headers (a bot killed mid-send) has its request dropped,
    as a real proxy would: the sink never sees a bodiless copy of it."""
    import socket

    with socket.create_connection((str(proxy.server.server_address[0]), proxy.port), timeout=5) as raw:
        raw.sendall(b"POST /deliveries HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k9\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n")
    assert proxy.state.wait("truncated", forwarded=False, timeout=10)
    assert _post(proxy, "k10").status_code == 201
    assert sink.state.count("k9") == 0 and "k9" not in sink.state.accepted


def test_the_sink_ignores_a_request_cut_short(sink: Sink) -> None:
    """The webhook sink, like a real receiver, takes nothing from a request whose body never
    fully arrived (it would otherwise accept the key with an empty post)."""
    import socket

    with socket.create_connection(("127.0.0.1", sink.port), timeout=5) as raw:
        raw.sendall(b"POST /deliveries HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k11\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n")
    answer = requests.post(f"{sink.url}/deliveries", json={"key": "k12", "title": "t"},
                           headers={"Idempotency-Key": "k12"}, timeout=TIMEOUT)
    assert answer.status_code == 201  # by now the cut request's EOF has long been read
    assert requests.get(f"{sink.url}/deliveries/k11", timeout=5).status_code == 404
    assert [post["key"] for post in sink.state.posts] == ["k12"]
