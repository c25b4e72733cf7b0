"""Creating and verifying API keys; keys are random and only their hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from service.auth import repository
from service.core.models import utcnow
from service.core.settings import Settings

KEY_PREFIX = "msk_"
DEFAULT_PROJECT = "default"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: its key and the one project it may see."""

    key_id: str
    project_id: str
    is_admin: bool


def hash_key(key: str) -> str:
    """SHA-256 of the key (keys are 256-bit random, so no salt or slow hash is needed)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never its secret or hash."""

    id: str
    name: str
    project: str
    is_admin: bool
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def create_key(
    session: Session,
    *,
    name: str,
    project: str = DEFAULT_PROJECT,
    admin: bool = False,
    expires_in_days: float | None = None,
) -> str:
    """Create a key in `project` (created if needed) and return the plaintext key once."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    owner = repository.get_or_create_project(session, project)
    expires_at = None if expires_in_days is None else utcnow() + timedelta(days=expires_in_days)
    repository.add_key(
        session,
        project_id=owner.id,
        name=name,
        key_hash=hash_key(key),
        is_admin=admin,
        expires_at=expires_at,
    )
    return key


def authenticate(session: Session, key: str) -> Principal | None:
    """The principal for a presented key, or None when it is unknown, revoked or expired.
    A key found active is remembered for KEY_CACHE_SECONDS (see `recently_authenticated`)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = hash_key(key)
    found = repository.find_active_key(session, digest, utcnow())
    if found is None:
        return None
    principal = Principal(key_id=found.id, project_id=found.project_id, is_admin=found.is_admin)
    _recent.remember(digest, principal)
    return principal


KEY_CACHE_SECONDS = 1.0
"""How long a process trusts a key it found active without asking the database again: a
revocation in another process takes effect within this time (in this process, at once)."""
KEY_CACHE_SIZE = 4096


class _RecentKeys:
    """Keys this process found active in the last KEY_CACHE_SECONDS (by hash; bounded)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Principal, float]] = {}

    def remember(self, digest: str, principal: Principal) -> None:
        if len(self._entries) >= KEY_CACHE_SIZE:
            self._entries.clear()
        self._entries[digest] = (principal, time.monotonic() + KEY_CACHE_SECONDS)

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def forget(self, key_id: str) -> None:
        for digest, (principal, _) in list(self._entries.items()):
            if principal.key_id == key_id:
                self._entries.pop(digest, None)


_recent = _RecentKeys()


def recently_authenticated(key: str) -> Principal | None:
    """The principal of a key this process found active within KEY_CACHE_SECONDS, without a
    database query (the API's hot path: one query fewer and no thread hand-off per request)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    return _recent.get(hash_key(key))


def list_keys(session: Session, project_id: str | None) -> list[KeyInfo]:
    """The keys of one project (every project's for the operator CLI), without secrets."""
    return [
        KeyInfo(
            id=key.id,
            name=key.name,
            project=project,
            is_admin=key.is_admin,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
        )
        for key, project in repository.list_keys(session, project_id)
    ]


def revoke_key(session: Session, key_id: str, project_id: str | None = None) -> bool:
    """Revoke a key (within `project_id` when given) and end its dashboard sessions."""
    _recent.forget(key_id)
    return repository.revoke_key(session, key_id, project_id, utcnow())


SESSION_COOKIE = "mesascope_session"
SESSION_SECONDS = 12 * 3600


def session_secret(settings: Settings) -> bytes:
    """The key that signs dashboard sessions: MESASCOPE_SESSION_SECRET, else a key file.

    The file `<data_dir>/session.key` is created once with 32 random bytes (mode 0600); every API
    process sharing the data directory then signs alike. Deployments without a shared data
    directory set the secret (production settings refuse to start without it).
    """
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value().encode("utf-8")
    path = settings.data_dir / "session.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def _mac(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_session(secret: bytes, key_id: str, *, now: float | None = None) -> str:
    """A session cookie value: key id, expiry and a random nonce, HMAC-signed (no key inside)."""
    expires = int((now if now is not None else time.time()) + SESSION_SECONDS)
    payload = f"{key_id}.{expires}.{secrets.token_urlsafe(16)}"
    return f"{payload}.{_mac(secret, 'session|' + payload)}"


def verify_session(secret: bytes, cookie: str, *, now: float | None = None) -> str | None:
    """The key id of a valid, unexpired session cookie, else None."""
    payload, _, mac = cookie.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 3 or not hmac.compare_digest(mac, _mac(secret, "session|" + payload)):
        return None
    key_id, expires, _nonce = parts
    if not expires.isdigit() or int(expires) < (now if now is not None else time.time()):
        return None
    return key_id


def _session_id(cookie: str) -> str:
    """The stored name of a session: a hash of the signed payload (the cookie is not stored)."""
    return hashlib.sha256(cookie.rpartition(".")[0].encode("utf-8")).hexdigest()


def start_session(session: Session, secret: bytes, key_id: str) -> str:
    """Sign a session cookie for a key and record the session server-side."""
    cookie = sign_session(secret, key_id)
    expires = datetime.fromtimestamp(int(cookie.split(".")[1]), UTC)
    repository.add_session(
        session, session_id=_session_id(cookie), key_id=key_id, expires_at=expires
    )
    return cookie


def session_principal(session: Session, secret: bytes, cookie: str) -> Principal | None:
    """The principal of a signed, unexpired session that was not logged out or revoked."""
    if verify_session(secret, cookie) is None:
        return None
    found = repository.session_key(session, _session_id(cookie), utcnow())
    if found is None:
        return None
    return Principal(key_id=found.id, project_id=found.project_id, is_admin=found.is_admin)


def end_session(session: Session, cookie: str) -> None:
    """Log a session out: its cookie stops working everywhere, not just in this browser."""
    repository.delete_session(session, _session_id(cookie))


def csrf_token(secret: bytes, binding: str) -> str:
    """The synchronizer token for forms of one session (or one bearer key)."""
    return _mac(secret, "csrf|" + binding)


def check_csrf(secret: bytes, binding: str, presented: str | None) -> bool:
    """Whether a form's token belongs to this session."""
    return bool(presented) and hmac.compare_digest(str(presented), csrf_token(secret, binding))
