"""The content checks in the console, over real HTTP: the urgent preview lists each finding with
its channel and field; publishing is refused until a second person with the approver role
overrides that preview on /urgent/override; then it goes out, and both steps are audited."""

from __future__ import annotations

import html
import re

from publisher.app import App
from tests.support.console import Console
from tests.support.urgent_console import (
    POST,
    audit_events,
    console,
    console_app,
    hidden_fields,
    post_form,
    table_counts,
    wakes,
)

__all__ = ["console", "console_app", "wakes"]  # the urgent console's fixtures, over the plain console's
ID_NUMBER = "310101199001011234"
_OVERRIDE = re.compile(r'data-override="([0-9a-f]{64})"')


def test_urgent_override_through_the_console(console: Console, console_app: App) -> None:
    """A first report holding an ID number previews with a ``block`` finding per channel and
    the preview to override; the poster's confirmation is refused and records nothing; an
    editor may not override; an approver does, with a reason; then the poster's same
    confirmation publishes, and the override and its use are audited."""
    poster = console.signed_in("urgent", name="zhao")
    facts = f"伤者张某（身份证{ID_NUMBER}）已送医。"
    confirmation = post_form(poster, "/urgent/preview", POST | {"facts": facts})
    assert confirmation.status_code == 200, confirmation.text[-2000:]
    page = html.unescape(confirmation.text)
    findings = page[page.index("data-findings"):]
    findings = findings[:findings.index("</section>")]
    assert 'data-finding="block" data-kind="personal" data-channel="portal-main"' in findings
    assert "3101**********1234" in findings and ID_NUMBER not in findings
    [fingerprint] = set(_OVERRIDE.findall(page))
    hidden = hidden_fields(confirmation.text, "/urgent")
    before = table_counts(console_app)

    refused = poster.post("/urgent", data=hidden)
    assert refused.status_code == 422 and "3101**********1234" in html.unescape(refused.text)
    assert table_counts(console_app)[:3] == before[:3]

    editor = console.signed_in("editor")
    assert editor.get(f"/urgent/override?fingerprint={fingerprint}").status_code == 403
    approver = console.signed_in("approver", name="li")
    form = approver.get(f"/urgent/override?fingerprint={fingerprint}")
    assert form.status_code == 200 and fingerprint in form.text
    done = approver.post("/urgent/override", data={
        "csrf_token": approver.csrf(), "fingerprint": fingerprint, "reason": "伤者本人同意公开"})
    assert done.status_code == 200 and "data-done" in done.text

    published = poster.post("/urgent", data=hidden)
    assert published.status_code == 303, published.text[-2000:]
    [given] = audit_events(console_app, "checks.overridden")
    [used] = audit_events(console_app, "checks.override_used")
    assert (given.actor, given.details["reason"]) == ("console:li", "伤者本人同意公开")
    assert (used.actor, used.details["approver"]) == ("console:zhao", "console:li")
    assert ID_NUMBER not in repr(used.details)


def test_overview_shows_each_accounts_age(console: Console) -> None:
    """The overview lists each new-media account and portal column with its freshness: here
    none has published yet."""
    page = console.signed_in("viewer").get("/")
    assert page.status_code == 200
    rows = dict(re.findall(r'data-freshness="([^"]+)" data-state="([^"]+)"', page.text))
    assert rows == {"channel:wechat-main": "never", "channel:weibo-main": "never",
                    "column:emergency": "never"}
