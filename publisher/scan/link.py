"""Dead links: every link of a release on the allowed hosts is asked for (HEAD, then GET where
HEAD is refused) with a short timeout; one that does not answer 2xx/3xx is a finding."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from urllib.parse import urlsplit

import requests

from channels.base import Payload
from publisher.config.checks import LinksConfig
from publisher.scan.finding import Finding, Level
from publisher.scan.text import links

HEAD_REFUSED = {405, 501}  # servers that answer HEAD so get a GET


def allowed(url: str, hosts: Collection[str]) -> bool:
    """Whether ``url`` is on one of ``hosts`` (or a subdomain of one)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return any(host == h or host.endswith(f".{h}") for h in (x.lower().strip(".") for x in hosts))


def status_of(session: requests.Session, url: str, timeout: float) -> str | None:
    """None when the link answers; else why not (``HTTP 404``, ``timeout``, ``unreachable``)."""
    try:
        answer = session.head(url, timeout=timeout, allow_redirects=True)
        if answer.status_code in HEAD_REFUSED:
            answer = session.get(url, timeout=timeout, allow_redirects=True, stream=True)
            answer.close()
    except requests.Timeout:
        return "timeout"
    except requests.RequestException:
        return "unreachable"
    return None if answer.status_code < 400 else f"HTTP {answer.status_code}"


def check(payloads: Mapping[str, Payload], config: LinksConfig, *, level: Level,
          session_factory: Callable[[], requests.Session], own: str = "") -> list[Finding]:
    """A finding at ``level`` for each dead link of each channel's payload (each URL asked for
    once); links containing ``own`` (the release's own page, not published yet) are skipped."""
    if not config.enabled or not config.allowed_hosts:
        return []
    found: list[tuple[str, str, str]] = []
    for channel, payload in payloads.items():
        found += [(channel, field, url) for field, url in links(payload.data)
                  if allowed(url, config.allowed_hosts) and not (own and own in url)]
    if not found:
        return []
    session = session_factory()
    try:
        why = {url: status_of(session, url, config.timeout_seconds)
               for url in dict.fromkeys(url for _c, _f, url in found)}
    finally:
        session.close()
    return [Finding(kind="link", level=level, found=url, channel=channel, field=field,
                    rule=str(why[url]),
                    advice_zh=f"链接无法打开（{why[url]}），请更正或删除该链接",
                    advice_en=f"the link does not open ({why[url]}): correct or remove it")
            for channel, field, url in found if why[url] is not None]
