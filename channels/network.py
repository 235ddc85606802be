"""Reading a failed HTTP request: it never left (safe to repeat) or it may have landed (unknown)."""

from __future__ import annotations

import requests
from requests.exceptions import ChunkedEncodingError, ContentDecodingError, ProxyError, SSLError
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError


def may_have_landed(exc: requests.RequestException) -> bool:
    """Whether the remote may have received and acted on the request that raised ``exc``.

    A refused or timed-out connection, a failed name lookup or TLS handshake: the request
    never left, and repeating it is a plain retry. A read timeout (requests' ``timeout`` is a
    connect and a read limit), or a connection closed or reset after the request was
    written: the remote may still be working on it, so its outcome is unknown until someone
    looks.
    """
    if isinstance(exc, requests.ConnectTimeout | SSLError | ProxyError):
        return False
    if isinstance(exc, requests.Timeout | ChunkedEncodingError | ContentDecodingError):
        return True  # ReadTimeout, or an answer cut off: the request had arrived
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        # refused, unreachable, DNS (NameResolutionError is a NewConnectionError)
        return not isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False  # a bad URL or similar: nothing was sent
