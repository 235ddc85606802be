"""An in-memory channel kind for tests: records every send and plays scripted failures."""
