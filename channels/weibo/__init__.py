"""The Weibo kind: posts through 2/statuses/share.json, with its loopback emulator."""
