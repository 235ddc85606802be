"""Content checks before anything goes public: wording errors, sensitive words, leaders' names and
titles, personal data, dead links, and channels left stale (the 错敏词 checks of the national
inspection of government websites and new-media accounts)."""

from __future__ import annotations

from publisher.scan.finding import LEVELS, Cell, Finding, blocking, summary
from publisher.scan.lists import ListError, Lists, load_lists
from publisher.scan.scanner import Scanner, scanner_of

__all__ = ["LEVELS", "Cell", "Finding", "ListError", "Lists", "Scanner", "blocking", "load_lists",
           "scanner_of", "summary"]
