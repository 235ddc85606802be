"""``python -m channels.wordpress.sandbox PORT USER PASSWORD [STATE_FILE]``."""

from __future__ import annotations

from channels.wordpress.sandbox import main

main()
