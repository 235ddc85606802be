"""The WordPress emulator speaks the REST API as portal.md's checklist describes it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from channels.wordpress.sandbox import Emulator, WordPressState, serve

AUTH = ("editor", "abcd EFGH 1234")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    running = serve()
    running.state.add_user(*AUTH)
    running.state.add_user("reader", "rrrr", editor=False)
    yield running
    running.stop()


def _posts(emulator: Emulator) -> str:
    return emulator.url + "wp-json/wp/v2/posts"


def test_create_answers_201_with_location(emulator: Emulator) -> None:
    """A created post answers 201 with a Location header naming its REST URL."""
    response = requests.post(_posts(emulator), json={"title": "标题", "status": "publish"},
                             auth=AUTH, timeout=5)
    assert response.status_code == 201
    assert response.headers["Location"] == f"{_posts(emulator)}/{response.json()['id']}"
    assert response.json()["title"]["raw"] == "标题"


def test_trash_then_410(emulator: Emulator) -> None:
    """DELETE without force trashes (200, status trash); again answers rest_already_trashed 410."""
    post_id = requests.post(_posts(emulator), json={"title": "t", "slug": "s"}, auth=AUTH,
                            timeout=5).json()["id"]
    first = requests.delete(f"{_posts(emulator)}/{post_id}", auth=AUTH, timeout=5)
    assert (first.status_code, first.json()["status"]) == (200, "trash")
    second = requests.delete(f"{_posts(emulator)}/{post_id}", auth=AUTH, timeout=5)
    assert second.status_code == 410
    assert second.json() == {"code": "rest_already_trashed",
                             "message": "The post has already been deleted.",
                             "data": {"status": 410}}
    forced = requests.delete(f"{_posts(emulator)}/{post_id}?force=true", auth=AUTH, timeout=5)
    assert forced.json()["deleted"] is True and post_id not in emulator.state.posts


def test_401_when_not_logged_in_403_when_not_allowed(emulator: Emulator) -> None:
    """rest_cannot_create is 401 for an anonymous caller and 403 for a logged-in reader."""
    anonymous = requests.post(_posts(emulator), json={"title": "t"}, timeout=5)
    reader = requests.post(_posts(emulator), json={"title": "t"}, auth=("reader", "rrrr"),
                           timeout=5)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "rest_cannot_create")
    assert (reader.status_code, reader.json()["code"]) == (403, "rest_cannot_create")
    assert emulator.state.posts == {}


def test_invalid_param_lists_params(emulator: Emulator) -> None:
    """A bad status answers rest_invalid_param 400 with data.params naming the field."""
    response = requests.post(_posts(emulator), json={"title": "t", "status": "archived"},
                             auth=AUTH, timeout=5)
    body = response.json()
    assert (response.status_code, body["code"]) == (400, "rest_invalid_param")
    assert set(body["data"]["params"]) == {"status"}
    assert "status" in body["data"]["details"]


def test_create_with_id_is_rest_post_exists(emulator: Emulator) -> None:
    """Sending an id on create answers rest_post_exists 400."""
    response = requests.post(_posts(emulator), json={"id": 5, "title": "t"}, auth=AUTH, timeout=5)
    assert (response.status_code, response.json()["code"]) == (400, "rest_post_exists")


def test_unknown_post_is_rest_post_invalid_id(emulator: Emulator) -> None:
    """A post id the site never had answers rest_post_invalid_id 404."""
    response = requests.get(f"{_posts(emulator)}/77", auth=AUTH, timeout=5)
    assert (response.status_code, response.json()["code"]) == (404, "rest_post_invalid_id")


def test_duplicate_slug_is_made_unique(emulator: Emulator) -> None:
    """A second post asking for a taken slug gets ``slug-2``, as WordPress does."""
    for _ in range(2):
        requests.post(_posts(emulator), json={"title": "t", "slug": "same"}, auth=AUTH, timeout=5)
    assert sorted(p["slug"] for p in emulator.state.posts.values()) == ["same", "same-2"]


def test_anonymous_may_not_list_drafts(emulator: Emulator) -> None:
    """Listing other statuses needs a login: anonymous gets rest_invalid_param on status."""
    response = requests.get(_posts(emulator), params={"status": "draft"}, timeout=5)
    assert response.status_code == 400 and "status" in response.json()["data"]["params"]


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    """With a state file, a restarted emulator still holds the posts made before."""
    state_file = tmp_path / "wp.json"
    first = serve(state=WordPressState(state_file=state_file))
    first.state.add_user(*AUTH)
    requests.post(first.url + "wp-json/wp/v2/posts", json={"title": "t", "slug": "kept"},
                  auth=AUTH, timeout=5)
    first.stop()
    second = serve(state=WordPressState(state_file=state_file))
    try:
        assert [p["slug"] for p in second.state.posts.values()] == ["kept"]
        assert second.state.creates == 1
    finally:
        second.stop()


def test_a_slow_create_overtaken_by_a_second_ends_as_slug_2(emulator: Emulator) -> None:
    """A create still in flight (``slow:``) when a second one for the same slug arrives is
    inserted after it and gets ``<slug>-2``, as wp_unique_post_slug does at insert time."""
    emulator.state.faults.append("slow:1.5")
    answers: dict[str, int] = {}

    def create(title: str) -> None:
        answer = requests.post(_posts(emulator), json={"title": title, "slug": "same"},
                               auth=AUTH, timeout=10)
        answers[title] = answer.json()["id"]

    first = threading.Thread(target=create, args=("first",))
    first.start()
    while emulator.state.faults:  # until the slow create has begun
        time.sleep(0.01)
    create("second")
    first.join(timeout=10)
    slugs = {title: emulator.state.posts[answers[title]]["slug"] for title in answers}
    assert slugs == {"first": "same-2", "second": "same"}


def test_search_finds_a_term_in_the_raw_content(emulator: Emulator) -> None:
    """``search`` matches the title, excerpt or raw content (an HTML comment too), in the
    statuses asked for; per_page above 100 is refused as WordPress does."""
    for slug, content in (("a", "<!-- mark=abc123 -->x"), ("b", "y")):
        requests.post(_posts(emulator), json={"title": "t", "slug": slug, "content": content,
                                              "status": "draft"}, auth=AUTH, timeout=5)
    found = requests.get(_posts(emulator), params={"search": "abc123", "status": "draft",
                                                   "context": "edit"}, auth=AUTH, timeout=5)
    assert [p["slug"] for p in found.json()] == ["a"]
    too_many = requests.get(_posts(emulator), params={"per_page": 101}, timeout=5)
    assert too_many.status_code == 400 and "per_page" in too_many.json()["data"]["params"]
