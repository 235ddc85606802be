"""The WeChat Official Account kind (微信公众号): adapter, errcode table, token cache and emulator."""
