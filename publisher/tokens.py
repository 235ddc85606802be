"""Access tokens shared through the database, encrypted so a database reader learns nothing."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from publisher.clock import Clock
from publisher.store import Store
from publisher.store.models import TokenRow

EARLY_SECONDS = 300  # a token this close to expiry counts as expired
MEMO_SECONDS = 30  # how long a token read from the database is reused without reading again


def _fernet(key_material: bytes, namespace: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=namespace.encode(),
               info=b"gov-publisher token cache").derive(key_material)
    return Fernet(base64.urlsafe_b64encode(key))


class DatabaseTokenCache:
    """A TokenCache for one channel over the ``token_cache`` table.

    Tokens are sealed with a key derived from the channel's own secrets (which live only in
    the environment), so the table holds nothing usable on its own. A changed secret makes
    old rows unreadable, which simply counts as a miss.
    """

    def __init__(self, store: Store, clock: Clock, namespace: str, key_material: bytes) -> None:
        if not key_material:
            raise ValueError("a token cache needs key material (the channel's secrets)")
        self.store = store
        self.clock = clock
        self.namespace = namespace
        self._fernet = _fernet(key_material, namespace)
        self._local = threading.Lock()  # SQLite's BEGIN IMMEDIATE serialises processes
        self._memo: dict[str, tuple[datetime, tuple[str, datetime]]] = {}  # key -> (read at, entry)

    def _row_key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    def _open(self, row: TokenRow | None) -> tuple[str, datetime] | None:
        if row is None:
            return None
        try:
            token = self._fernet.decrypt(row.sealed.encode()).decode()
        except InvalidToken:
            return None
        return token, row.expires_at

    def _fresh(self, entry: tuple[str, datetime] | None) -> bool:
        return entry is not None and (entry[1] - self.clock.now()).total_seconds() > EARLY_SECONDS

    def get(self, key: str) -> tuple[str, datetime] | None:
        """The cached token if it is not about to expire.

        What was read is kept for MEMO_SECONDS, so a burst of calls (an urgent post's chain)
        does not read the database on each; a token another process replaced meanwhile is
        refused by the remote, and ``refresh`` then returns the newer one.
        """
        now = self.clock.now()
        memo = self._memo.get(key)
        if memo is not None and (now - memo[0]).total_seconds() < MEMO_SECONDS \
                and self._fresh(memo[1]):
            return memo[1]
        with self.store.read() as session:
            entry = self._open(session.get(TokenRow, self._row_key(key)))
        if not self._fresh(entry):
            self._memo.pop(key, None)
            return None
        assert entry is not None
        self._memo[key] = (now, entry)
        return entry

    def refresh(self, key: str, stale: str | None,
                fetch: Callable[[], tuple[str, datetime]]) -> str:
        """Replace ``stale`` once, whoever asks: inside one locked write transaction."""
        with self._local, self.store.write() as session:
            row = session.execute(
                select(TokenRow).where(TokenRow.key == self._row_key(key)).with_for_update()
            ).scalar_one_or_none()
            entry = self._open(row)
            if entry is not None and entry[0] != stale and self._fresh(entry):
                self._memo[key] = (self.clock.now(), entry)
                return entry[0]
            self._memo.pop(key, None)
            token, expires_at = fetch()
            sealed = self._fernet.encrypt(token.encode()).decode()
            if row is None:
                session.add(TokenRow(key=self._row_key(key), sealed=sealed, expires_at=expires_at))
            else:
                row.sealed, row.expires_at = sealed, expires_at
            self._memo[key] = (self.clock.now(), (token, expires_at))
            return token
