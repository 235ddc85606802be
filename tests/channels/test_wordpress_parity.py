"""The WordPress emulator answers as the real WordPress (Debian's 6.1) does: the same raw REST
requests, sent to both, get the same status and error code. Each case is a difference the
real site showed once (authentication, empty posts, unknown categories, trash, uploads)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from channels.wordpress.sandbox import serve

PNG = b"\x89PNG\r\n\x1a\n" + bytes.fromhex(
    "0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005"
    "0001ff7e0d2d0a0000000049454e44ae426082")
Call = Callable[..., requests.Response]
Site = tuple[str, tuple[str, str]]


def _cases() -> list[tuple[str, Callable[[Site], tuple[int, str]]]]:
    def answer(reply: requests.Response) -> tuple[int, str]:
        body: Any = reply.json()
        return reply.status_code, str(body.get("code", "")) if isinstance(body, dict) else ""

    def api(site: Site) -> str:
        return f"{site[0]}wp-json/wp/v2"

    def wrong(site: Site) -> tuple[str, str]:
        return site[1][0], "wxyz wxyz wxyz wxyz"

    return [
        ("users/me with a wrong password: not logged in", lambda s: answer(requests.get(
            f"{api(s)}/users/me", params={"context": "edit"}, auth=wrong(s), timeout=30))),
        ("drafts lookup with a wrong password: 400 on status", lambda s: answer(requests.get(
            f"{api(s)}/posts", params={"status": "publish,draft", "context": "edit"},
            auth=wrong(s), timeout=30))),
        ("drafts lookup with an unknown user: 400 on status", lambda s: answer(requests.get(
            f"{api(s)}/posts", params={"status": "publish,draft", "context": "edit"},
            auth=("nobody-here", "abcd"), timeout=30))),
        ("create with a wrong password: 401", lambda s: answer(requests.post(
            f"{api(s)}/posts", json={"title": "t"}, auth=wrong(s), timeout=30))),
        ("empty post refused", lambda s: answer(requests.post(
            f"{api(s)}/posts", json={"title": "", "content": "", "excerpt": ""}, auth=s[1],
            timeout=30))),
        ("unknown category ignored", lambda s: answer(requests.post(
            f"{api(s)}/posts", json={"title": "t", "categories": [987654]}, auth=s[1],
            timeout=30))),
        ("no such post", lambda s: answer(requests.get(f"{api(s)}/posts/987654", auth=s[1],
                                                       timeout=30))),
        ("trash twice: 410", lambda s: _trash_twice(api(s), s[1])),
        ("a picture that is none: refused", lambda s: answer(requests.post(
            f"{api(s)}/media", data=b"not a picture", auth=s[1], timeout=30, headers={
                "Content-Type": "image/png",
                "Content-Disposition": 'attachment; filename="x.png"'}))),
        ("a picture: created", lambda s: answer(requests.post(
            f"{api(s)}/media", data=PNG, auth=s[1], timeout=30, headers={
                "Content-Type": "image/png",
                "Content-Disposition": 'attachment; filename="parity.png"'}))),
    ]


def _trash_twice(api: str, auth: tuple[str, str]) -> tuple[int, str]:
    made = requests.post(f"{api}/posts", json={"title": "parity", "status": "publish"},
                         auth=auth, timeout=30).json()
    requests.delete(f"{api}/posts/{made['id']}", auth=auth, timeout=30).raise_for_status()
    again = requests.delete(f"{api}/posts/{made['id']}", auth=auth, timeout=30)
    return again.status_code, str(again.json().get("code", ""))


CASES = _cases()


@pytest.fixture(scope="module")
def emulator_site() -> Iterator[Site]:
    running = serve()
    running.state.add_user("publisher-bot", "abcd efgh ijkl mnop")
    yield running.url, ("publisher-bot", "abcd efgh ijkl mnop")
    running.stop()


@pytest.mark.slow
@pytest.mark.wordpress
@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
def test_emulator_answers_as_the_real_wordpress(
        name: str, case: Callable[[Site], tuple[int, str]], emulator_site: Site,
        real_wordpress: Any) -> None:
    """The emulator's status and error code for this request are the real WordPress's."""
    real = case((real_wordpress.url, (real_wordpress.username,
                                      real_wordpress.application_password)))
    emulated = case(emulator_site)
    assert emulated == real, name
