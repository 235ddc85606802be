"""The one version string of the bot: the installed package's, used by the API and the user agent."""

from __future__ import annotations

from importlib.metadata import version

VERSION = version("gov-publisher")  # pyproject.toml's [project] version, as installed
USER_AGENT = f"gov-publisher/{VERSION}"  # every HTTP request the channels make
