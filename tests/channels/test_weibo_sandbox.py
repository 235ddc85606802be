"""The Weibo emulator over HTTP: the weibo.md checklist, OAuth2, faults and its command line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pydantic import SecretStr

from channels.base import ConfigurationError
from channels.weibo import oauth
from channels.weibo.adapter import WeiboSettings
from tests.support.weibo import LINK_BASE, Rig, message, start_rig

LINK = f"{LINK_BASE}food-safety/a.html"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from start_rig(tmp_path)


def _share(rig: Rig, status: str, **extra: str) -> requests.Response:
    form = {"access_token": rig.token, "status": status, "rip": "211.156.0.1", **extra}
    return rig.session.post(f"{rig.emulator.url}/2/statuses/share.json", data=form, timeout=5)


def _code(response: requests.Response) -> Any:
    return response.json()["error_code"]


def test_success_body_has_id_and_idstr(rig: Rig) -> None:
    """A share answers both ``id`` (rounded) and ``idstr``, the created_at format and the text."""
    response = _share(rig, f"抽检 {LINK}")
    body = response.json()
    assert response.status_code == 200
    assert isinstance(body["id"], int) and isinstance(body["idstr"], str)
    assert body["id"] != int(body["idstr"]) and str(body["id"])[:10] == body["idstr"][:10]
    assert datetime.strptime(body["created_at"], "%a %b %d %H:%M:%S %z %Y") == rig.clock()
    assert body["text"] == f"抽检 {LINK}"


@pytest.mark.parametrize(("status", "code", "http"), [
    ("没有链接", 10017, 400),
    ("http://other.example.com/x 别的域名", 10017, 400),
    ("", 20008, 400),
    ("详" * 131 + " " + LINK, 20012, 400),
])
def test_refusals_carry_the_error_body(rig: Rig, status: str, code: int, http: int) -> None:
    """Refusals are 4xx with ``{error, error_code, request}``: safe domain, empty, too long."""
    response = _share(rig, status)
    assert response.status_code == http
    assert set(response.json()) == {"error", "error_code", "request"}
    assert (_code(response), response.json()["request"]) == (code, "/2/statuses/share.json")
    assert rig.emulator.platform.posts == []


def test_text_at_the_limit_is_accepted(rig: Rig) -> None:
    """129 Chinese characters, a space and a link make 139.5, rounded to 140: accepted."""
    assert _share(rig, "详" * 129 + " " + LINK).status_code == 200


def test_identical_and_similar_texts(rig: Rig) -> None:
    """The same text again is 20019, a text differing only in spaces and punctuation is 20017."""
    assert _share(rig, f"本周抽检120批次。{LINK}").status_code == 200
    assert _code(_share(rig, f"本周抽检120批次。{LINK}")) == 20019
    assert _code(_share(rig, f"本周 抽检 120 批次 {LINK}")) == 20017
    assert _share(rig, f"本周抽检121批次。{LINK}").status_code == 200
    assert rig.emulator.count(f"本周抽检120批次。{LINK}") == 1


def test_hourly_cap_and_burst(tmp_path: Path) -> None:
    """Posts beyond the hourly cap answer 10024; two posts closer than the burst gap answer 20016."""
    for rig in start_rig(tmp_path, posts_per_hour=2, burst_seconds=30):
        assert _share(rig, f"一 {LINK}").status_code == 200
        assert _code(_share(rig, f"二 {LINK}")) == 20016
        rig.clock.advance(seconds=31)
        assert _share(rig, f"二 {LINK}").status_code == 200
        assert _code(_share(rig, f"三 {LINK}")) == 10024
        rig.clock.advance(hours=1)
        assert _share(rig, f"三 {LINK}").status_code == 200


def test_call_cap(tmp_path: Path) -> None:
    """Calls beyond the hourly call limit answer 10023."""
    for rig in start_rig(tmp_path, calls_per_hour=1):
        assert _share(rig, f"一 {LINK}").status_code == 200
        assert _code(_share(rig, f"二 {LINK}")) == 10023


def test_tokens_three_ways_and_their_death(rig: Rig) -> None:
    """The token is read from the form, the query or an OAuth2 header; expired 21327, bad 21332."""
    url = f"{rig.emulator.url}/2/statuses/user_timeline.json"
    assert rig.session.get(url, params={"access_token": rig.token}, timeout=5).status_code == 200
    assert rig.session.get(url, headers={"Authorization": f"OAuth2 {rig.token}"},
                           timeout=5).status_code == 200
    assert _share(rig, f"表单 {LINK}").status_code == 200
    assert _code(rig.session.get(url, params={"access_token": "nope"}, timeout=5)) == 21332
    rig.emulator.platform.revoke(rig.token)
    assert _code(_share(rig, f"吊销 {LINK}")) == 21332
    short = rig.emulator.platform.issue_token(lifetime_seconds=10).value
    rig.clock.advance(seconds=10)
    response = rig.session.get(url, params={"access_token": short}, timeout=5)
    assert (response.status_code, _code(response)) == (401, 21327)


def test_closed_endpoints_answer_10014(rig: Rig) -> None:
    """The old update endpoint is closed to ordinary apps: 403 with 10014."""
    response = rig.session.post(f"{rig.emulator.url}/2/statuses/update.json",
                                data={"access_token": rig.token, "status": "x"}, timeout=5)
    assert (response.status_code, _code(response)) == (403, 10014)


def test_injected_faults_apply_once_and_per_path(rig: Rig) -> None:
    """A fault for one path leaves other paths alone and is used up by one call."""
    rig.emulator.fail_next("10002@/2/statuses/share.json")
    info = rig.session.post(f"{rig.emulator.url}/oauth2/get_token_info",
                            data={"access_token": rig.token}, timeout=5)
    assert info.status_code == 200
    assert _code(_share(rig, f"一 {LINK}")) == 10002
    assert _share(rig, f"一 {LINK}").status_code == 200


class _Cache:
    """A dict-backed token cache honouring the TokenCache protocol."""

    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str, datetime]] = {}

    def get(self, key: str) -> tuple[str, datetime] | None:
        return self.tokens.get(key)

    def refresh(self, key: str, stale: str | None,
                fetch: Callable[[], tuple[str, datetime]]) -> str:
        current = self.tokens.get(key)
        if current is not None and current[0] != stale:
            return current[0]
        self.tokens[key] = fetch()
        return self.tokens[key][0]


def test_oauth2_code_flow_and_token_info(rig: Rig) -> None:
    """authorize redirects with a code, access_token trades it, the adapter posts with the token."""
    config = rig.emulator.platform.config
    settings = WeiboSettings(link_base_url=LINK_BASE, rip="211.156.0.1",
                             base_url=rig.emulator.url, app_key=config.app_key,
                             app_secret=SecretStr(config.app_secret),
                             redirect_uri=config.redirect_uri)
    url = oauth.authorize_url(settings, state="s1")
    redirect = rig.session.get(url, allow_redirects=False, timeout=5)
    assert redirect.status_code == 302
    query = parse_qs(urlsplit(redirect.headers["Location"]).query)
    assert query["state"] == ["s1"]
    code = oauth.code_from(redirect.headers["Location"], "s1")
    assert code == query["code"][0] == oauth.code_from(f"  {code}\n", "s1")
    grant = oauth.exchange(settings, rig.session, code, rig.clock())
    assert grant.access_token not in repr(grant)
    assert (grant.expires_at - rig.clock()).days == 5 * 365
    cache = _Cache()
    oauth.store(cache, "weibo-main", grant)
    channel = rig.channel(access_token=None)
    channel.context.token_cache = cache
    channel.send(channel.prepare(message()), "k")
    assert rig.emulator.platform.posts[0]["uid"] == grant.uid
    info = rig.session.post(f"{rig.emulator.url}/oauth2/get_token_info",
                            data={"access_token": grant.access_token}, timeout=5).json()
    assert set(info) == {"uid", "appkey", "scope", "create_at", "expire_in"}
    with pytest.raises(ConfigurationError, match="21325"):
        oauth.exchange(settings, rig.session, query["code"][0], rig.clock())


def test_oauth2_wrong_redirect(rig: Rig) -> None:
    """A redirect_uri other than the registered one comes back as an error on the redirect."""
    response = rig.session.get(f"{rig.emulator.url}/oauth2/authorize", params={
        "client_id": rig.emulator.platform.config.app_key, "redirect_uri": "http://evil/cb",
        "state": "s2"}, allow_redirects=False, timeout=5)
    with pytest.raises(ConfigurationError) as caught:
        oauth.code_from(response.headers["Location"], "s2")
    assert caught.value.code == "21322"


def test_pasted_callback_with_wrong_state_is_refused() -> None:
    """A callback whose state is not the one this run sent is refused (a forged or stale link)."""
    with pytest.raises(ConfigurationError, match="state"):
        oauth.code_from("http://127.0.0.1/weibo/callback?code=abc&state=other", "mine")


def test_command_line_emulator_with_fault() -> None:
    """``python -m channels.weibo.sandbox --fault 20016`` serves, prints its token, plays the fault."""
    process = subprocess.Popen(
        [sys.executable, "-m", "channels.weibo.sandbox", "--safe-domain", "gov.example.cn",
         "--fault", "20016"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        form = {"access_token": started["access_token"], "status": f"一 {LINK}", "rip": "1.2.3.4"}
        first = requests.post(f"{started['url']}/2/statuses/share.json", data=form, timeout=5)
        second = requests.post(f"{started['url']}/2/statuses/share.json", data=form, timeout=5)
        assert (_code(first), second.status_code) == (20016, 200)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _timeline(rig: Rig, **params: str) -> requests.Response:
    return rig.session.get(f"{rig.emulator.url}/2/statuses/user_timeline.json",
                           params={"access_token": rig.token, **params}, timeout=5)


def test_timeline_pages_as_documented(tmp_path: Path) -> None:
    """user_timeline: newest first, ``count`` per page (default 20, at most 100), ``page``
    from 1, ``max_id`` (ids up to it) and ``since_id`` (ids above it), ``trim_user`` leaves
    the user's id only, ``total_number`` counts every live post; a non-number is 10008."""
    for rig in start_rig(tmp_path, posts_per_hour=1000):
        for n in range(130):
            assert _share(rig, f"第{n}条 {LINK}").status_code == 200
        ids = [int(p["idstr"]) for p in reversed(rig.emulator.platform.posts)]  # newest first

        def page(rig: Rig = rig, **params: str) -> list[int]:
            body = _timeline(rig, **params).json()
            assert body["total_number"] == 130
            return [int(s["idstr"]) for s in body["statuses"]]

        assert page() == ids[:20]
        assert page(count="200") == ids[:100]
        assert page(count="100", page="2") == ids[100:]
        assert page(count="5", max_id=str(ids[10])) == ids[10:15]
        assert page(count="100", since_id=str(ids[3])) == ids[:3]
        assert page(page="9") == []
        trimmed = _timeline(rig, count="1", trim_user="1").json()["statuses"][0]
        assert trimmed["user"] == {"id": int(rig.emulator.platform.posts[0]["uid"])}
        assert _code(_timeline(rig, count="many")) == 10008


def test_timeline_can_hide_all_but_the_newest(tmp_path: Path) -> None:
    """With ``timeline_visible`` (live Weibo reportedly shows ordinary apps only the newest 5,
    unconfirmed) older posts cannot be paged to, while ``total_number`` still counts them."""
    for rig in start_rig(tmp_path, timeline_visible=5):
        for n in range(8):
            assert _share(rig, f"第{n}条 {LINK}").status_code == 200
        body = _timeline(rig, count="100").json()
        assert len(body["statuses"]) == 5 and body["total_number"] == 8
        assert _timeline(rig, count="100", page="2").json()["statuses"] == []
