"""axe-core in the browser tests: inject the pinned copy shipped by a PyPI package and list violations.

The script is read from the installed ``axe-playwright-python`` wheel (pinned in pyproject.toml):
nothing is downloaded at test time.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from playwright.sync_api import Page, Route

# WCAG 2.0/2.1 A and AA, plus the mobile criteria: 2.5.8 target size (wcag22aa). Reflow (1.4.10)
# has no axe rule: the tests measure sideways scrolling themselves.
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")


def script() -> str:
    """The text of axe.min.js as installed with the pinned package."""
    return (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def version(page: Page) -> str:
    """The axe-core version injected into ``page``."""
    inject(page)
    return str(page.evaluate("axe.version"))


def inject(page: Page) -> None:
    """Put axe into ``page`` (evaluated through the DevTools protocol, so a
    Content-Security-Policy that forbids inline script does not stop it; a document sandboxed
    without scripts cannot run it: open it on its own with ``unsandboxed``)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(script())


def unsandboxed(page: Page, pattern: str) -> None:
    """Serve the documents matching ``pattern`` without their Content-Security-Policy (whose
    ``sandbox`` forbids every script, axe's too), so they can be checked on their own."""

    def strip(route: Route) -> None:
        answer = route.fetch()
        headers = {k: v for k, v in answer.headers.items()
                   if k.lower() != "content-security-policy"}
        route.fulfill(response=answer, headers=headers)

    page.route(pattern, strip)


def violations(page: Page, tags: tuple[str, ...] = TAGS) -> list[dict[str, Any]]:
    """Run axe on the whole page with ``tags``; the violations, each with its nodes."""
    inject(page)
    # Framed documents (sandboxed message previews) run no script: each is checked as a page.
    options = {"runOnly": {"type": "tag", "values": list(tags)}, "resultTypes": ["violations"],
               "iframes": False}
    result: dict[str, Any] = page.evaluate("options => axe.run(document, options)", options)
    return list(result["violations"])


def describe(found: list[dict[str, Any]]) -> str:
    """A readable list of violations: rule, impact, help and each node's target and summary."""
    lines = []
    for violation in found:
        lines.append(f"{violation['id']} ({violation.get('impact')}): {violation['help']}")
        for node in violation["nodes"][:8]:
            lines.append(f"    {json.dumps(node['target'], ensure_ascii=False)} "
                         f"{(node.get('failureSummary') or '').splitlines()[-1:]}")
    return "\n".join(lines)
