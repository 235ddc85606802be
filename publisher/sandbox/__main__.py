"""``python -m publisher.sandbox --config schedules.yaml``: the sandbox service in the foreground."""

from __future__ import annotations

import sys

from publisher.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "sandbox", "serve", *sys.argv[1:]]
    main()
