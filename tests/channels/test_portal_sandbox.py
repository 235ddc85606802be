"""Tests of the portal sandbox: a loopback HTTP server over the built site."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

import pytest
import requests

from channels.base import Message, idempotency_key
from channels.portal.adapter import PortalChannel
from channels.portal.sandbox import ServerHandle, serve

MessageFactory = Callable[..., Message]


@pytest.fixture
def served(portal: PortalChannel, make_message: MessageFactory) -> Iterator[ServerHandle]:
    message = make_message()
    portal.send(portal.prepare(message), idempotency_key(message.release_key, portal.name))
    handle = serve(portal.site_dir, 0)
    yield handle
    handle.stop()


def test_sandbox_serves_a_published_page_as_html(served: ServerHandle) -> None:
    """A published page comes back with 200 and text/html in utf-8."""
    assert served.url.startswith("http://127.0.0.1:") and served.port > 0
    with requests.Session() as session:
        response = session.get(served.url + "food-safety/food-safety-sampling-2026-w49.html")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "食品安全监督抽检信息的通告" in response.content.decode("utf-8")
        home = session.get(served.url)
        assert home.status_code == 200 and "food-safety/" in home.text


def test_sandbox_serves_feed_and_sitemap_with_xml_types(served: ServerHandle) -> None:
    """The Atom feed and the sitemap are served with their XML media types and parse."""
    feed = requests.get(served.url + "feed.atom", timeout=10)
    assert feed.headers["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)  # noqa: S314 - served from our own file
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    sitemap = requests.get(served.url + "sitemap.xml", timeout=10)
    assert sitemap.headers["Content-Type"].startswith("application/xml")


def test_sandbox_hides_the_bots_own_files(served: ServerHandle) -> None:
    """The manifest, page sources and lock file are not served."""
    hidden = ("_manifest.json", "%5Fmanifest.json", "_source/food-safety-sampling-2026-w49.json",
              "_manifest.lock")
    for path in hidden:
        assert requests.get(served.url + path, timeout=10).status_code == 404, path


def test_sandbox_refuses_non_loopback_hosts(portal: PortalChannel) -> None:
    """The sandbox will not listen beyond the local machine."""
    with pytest.raises(ValueError, match="loopback"):
        serve(portal.site_dir, 0, host="0.0.0.0")  # noqa: S104 - the address being refused


def test_stopping_twice_is_harmless(served: ServerHandle) -> None:
    """stop() releases the port and may be called again."""
    served.stop()
    served.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(served.url, timeout=10)
