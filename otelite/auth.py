"""Users, password hashes and ingest tokens: who may read and write which project.

Password hashes are `scrypt$<n>$<r>$<p>$<salt, base64>$<key, base64>` (hashlib.scrypt,
16-byte random salt, 32-byte key); `otelite hash-password` prints one. Ingest tokens
are random 32-byte secrets, stored as `sha256$<hex>` of the token: a token has full
entropy, so a fast hash is as safe as scrypt there and costs nothing per export;
`otelite new-token` prints a token and its hash.

Credentials travel in the `authorization` header (HTTP) or metadata (gRPC):
`Basic base64(user:password)` for users, `Bearer <token>` for ingest tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_KEY_BYTES = 32
ALL_PROJECTS = "*"
REALM = 'Basic realm="otelite"'
# Successful checks are remembered (by a hash of the header) so a busy exporter does
# not pay scrypt on every request; failures are never cached.
CACHE_SIZE = 4096


class HashFormatError(ValueError):
    pass


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = os.urandom(16) if salt is None else salt
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    n, r, p, salt, key = parse_password_hash(encoded)
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(key)), key)


def parse_password_hash(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """Split a `scrypt$n$r$p$salt$key` hash; HashFormatError if it is not one."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise HashFormatError(
            "a password hash looks like scrypt$16384$8$1$<salt>$<key>; make one with `otelite hash-password`"
        )
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        raise HashFormatError("malformed scrypt password hash") from None
    if n < 2 or n & (n - 1) or not (1 <= r <= 64 and 1 <= p <= 16) or not salt or not key:
        raise HashFormatError("scrypt parameters out of range")
    return n, r, p, salt, key


def new_token() -> tuple[str, str]:
    """A fresh ingest token and the `sha256$...` hash that goes into config.yaml."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


def parse_token_hash(encoded: str) -> str:
    prefix, _, digest = encoded.partition("$")
    if prefix != "sha256" or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise HashFormatError("a token hash looks like sha256$<64 hex digits>; make one with `otelite new-token`")
    return digest


class UserSettings(Protocol):
    username: str
    password_hash: str
    read: list[str]
    write: list[str]


class TokenSettings(Protocol):
    project: str
    token_hash: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request, and which projects it may read (query) and write (ingest)."""

    name: str
    read: frozenset[str] = field(default_factory=frozenset)
    write: frozenset[str] = field(default_factory=frozenset)
    # An ingest token's project: where its spans go when the request names none.
    default_project: str | None = None

    def may_read(self, project: str) -> bool:
        return ALL_PROJECTS in self.read or project in self.read

    def may_write(self, project: str) -> bool:
        return ALL_PROJECTS in self.write or project in self.write


class Authenticator:
    """Checks `authorization` values; `enabled` is False when no users or tokens exist."""

    def __init__(self, users: Iterable[UserSettings] = (), tokens: Iterable[TokenSettings] = ()) -> None:
        self._users = {u.username: u for u in users}
        self._tokens = {parse_token_hash(t.token_hash): t.project for t in tokens}
        for user in self._users.values():
            parse_password_hash(user.password_hash)
        self.enabled = bool(self._users or self._tokens)
        self._cache: dict[bytes, Principal] = {}
        self._cache_lock = threading.Lock()
        # Checked against when the user is unknown, so a wrong name costs as much as a
        # wrong password and does not reveal which names exist.
        self._decoy = hash_password(secrets.token_hex(8))

    def authenticate(self, authorization: str | None) -> Principal | None:
        if not authorization:
            return None
        cache_key = hashlib.sha256(authorization.encode("utf-8", "surrogateescape")).digest()
        if (principal := self._cache.get(cache_key)) is not None:
            return principal
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            principal = self._basic(credentials.strip())
        elif scheme == "bearer":
            principal = self._bearer(credentials.strip())
        else:
            principal = None
        if principal is not None:
            with self._cache_lock:
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.clear()
                self._cache[cache_key] = principal
        return principal

    def _basic(self, credentials: str) -> Principal | None:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (ValueError, binascii.Error):
            return None
        username, sep, password = decoded.partition(":")
        if not sep:
            return None
        user = self._users.get(username)
        if user is None:
            verify_password(password, self._decoy)
            return None
        if not verify_password(password, user.password_hash):
            return None
        return Principal(username, frozenset(user.read), frozenset(user.write))

    def _bearer(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        for known, project in self._tokens.items():
            if hmac.compare_digest(known, digest):
                return Principal(f"token for {project}", frozenset(), frozenset({project}), default_project=project)
        return None


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int = SCRYPT_KEY_BYTES) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogateescape"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=256 * 1024 * 1024
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
