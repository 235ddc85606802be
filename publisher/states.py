"""A delivery's states, in a module of their own so the command line can name them cheaply."""

from __future__ import annotations

STATES = ("pending", "sending", "retry_wait", "queued", "published", "failed", "unknown",
          "retracted")
DUE_STATES = ("pending", "retry_wait")
OUTSTANDING = ("pending", "sending", "retry_wait")  # not yet settled
