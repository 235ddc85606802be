"""The webhook kind: JSON to an internal system, with its loopback sink."""
