"""Data intake: a period's data files handed in through the console or the API, checked with the
release's reader, stored in the inbox; templates; the pre-flight check before each run."""
