"""The ``wordpress`` kind: the portal published as posts through the WordPress REST API."""
