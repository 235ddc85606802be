"""``python -m tests.support.campaign``: one campaign, its summary table; exit 1 on a violation."""

from __future__ import annotations

from tests.support.campaign.run import main

main()
