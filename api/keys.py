"""API keys: creation, the keys file (hashes only), revocation and constant-time verification.

A key looks like ``prk.<key_id>.<secret>``: the key id (12 hex characters) is public and names the key
in audit records; the secret is 32 random bytes (URL-safe base64). The file stores
``sha256(key_id "." secret)`` and never the secret. A salted slow hash (bcrypt, scrypt) protects
guessable passwords; a 256-bit random secret cannot be guessed, so one SHA-256 suffices and keeps every
request cheap. Look-up is by key id, comparison by :func:`hmac.compare_digest`.

The file is JSON (``{"format": 1, "keys": [...]}``), written atomically with mode 0600 under an advisory
lock, so ``portrisk apikey`` and a running server can both change it. The server reloads it when it
changes: a revocation takes effect on the next request.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast

from portrisk.errors import ConfigError

Role = Literal["inspector", "security", "operator", "admin"]
ROLES: tuple[Role, ...] = ("inspector", "security", "operator", "admin")
KEY_PREFIX = "prk"
FILE_FORMAT = 1
# Compared against when the presented key id is unknown, so that an unknown id costs the same as a
# wrong secret (key ids are not secret, but there is no reason to make probing them cheaper).
_DUMMY_HASH = "sha256:" + "0" * 64


class KeyFileError(ConfigError):
    """The API keys file cannot be read, parsed or written."""


@dataclass(frozen=True)
class ApiKey:
    """One stored key: who it belongs to, what it may do, and the hash of its secret."""

    key_id: str
    name: str
    role: Role
    ports: tuple[str, ...]
    hash: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public(self) -> dict[str, object]:
        """Everything but the hash (for listings)."""
        return {"key_id": self.key_id, "name": self.name, "role": self.role, "ports": list(self.ports),
                "created_at": self.created_at, "revoked_at": self.revoked_at}


def default_keys_file(home: Path) -> Path:
    """Where the keys live when ``PORTRISK_API_KEYS_FILE`` is unset."""
    return home / "api" / "keys.json"


def hash_secret(key_id: str, secret: str) -> str:
    """The stored form of a key's secret."""
    return "sha256:" + hashlib.sha256(f"{key_id}.{secret}".encode()).hexdigest()


def parse_key(presented: str) -> tuple[str, str] | None:
    """``prk.<id>.<secret>`` → (id, secret); None when the shape is wrong."""
    parts = presented.strip().split(".", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    key_id, secret = parts[1], parts[2]
    if not all(c in "0123456789abcdef" for c in key_id) or len(secret) > 128:
        return None
    return key_id, secret


def _load(path: Path) -> list[ApiKey]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"API keys file {path} is unreadable: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT or not isinstance(doc.get("keys"), list):
        raise KeyFileError(f"API keys file {path} is not a format-{FILE_FORMAT} keys file")
    keys = []
    try:
        for entry in doc["keys"]:
            if entry["role"] not in ROLES:
                raise ValueError(f"unknown role {entry['role']!r}")
            keys.append(ApiKey(key_id=str(entry["key_id"]), name=str(entry["name"]), role=entry["role"],
                               ports=tuple(entry.get("ports", ())), hash=str(entry["hash"]),
                               created_at=str(entry["created_at"]), revoked_at=entry.get("revoked_at")))
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFileError(f"API keys file {path} has a malformed entry: {exc}") from exc
    return keys


def _save(path: Path, keys: list[ApiKey]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    doc = {"format": FILE_FORMAT, "keys": [{**asdict(k), "ports": list(k.ports)} for k in keys]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of the keys file between the CLI and running servers."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def create_key(path: Path, *, role: str, name: str, ports: Collection[str] = (),
               known_ports: Collection[str] = ()) -> tuple[ApiKey, str]:
    """Create and store a key; returns the stored record and the full key (shown once, never stored)."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    name = name.strip()
    if not name or len(name) > 100:
        raise ConfigError("a key needs a name of 1-100 characters (who or what uses it)")
    ports = tuple(dict.fromkeys(ports))
    if role == "inspector" and not ports:
        raise ConfigError("an inspector key needs at least one --port")
    if role != "inspector" and ports:
        raise ConfigError(f"only inspector keys are bound to ports; a {role} key sees every port")
    unknown = [p for p in ports if p not in known_ports]
    if unknown:
        raise ConfigError(f"unknown port(s) {', '.join(unknown)}; configured ports: {', '.join(known_ports)}")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ApiKey(key_id=key_id, name=name, role=cast(Role, role), ports=ports,
                    hash=hash_secret(key_id, secret), created_at=datetime.now(UTC).isoformat())
    with _locked(path):
        _save(path, [*_load(path), record])
    return record, f"{KEY_PREFIX}.{key_id}.{secret}"


def list_keys(path: Path) -> list[ApiKey]:
    """Every key in the file, revoked ones included (they stay as a record of who had access)."""
    return _load(path)


def revoke_key(path: Path, key_id: str) -> ApiKey:
    """Mark a key revoked (kept in the file for the record); ConfigError when there is no such key."""
    with _locked(path):
        keys = _load(path)
        for i, key in enumerate(keys):
            if key.key_id == key_id:
                if key.revoked_at is None:
                    keys[i] = replace(key, revoked_at=datetime.now(UTC).isoformat())
                    _save(path, keys)
                return keys[i]
    raise ConfigError(f"no API key with id {key_id!r} in {path}")


class KeyStore:
    """The server's view of the keys file, reloaded whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._loaded = False
        self._keys: dict[str, ApiKey] = {}
        self.error: str | None = None

    def status(self) -> str | None:
        """None when the file loaded and holds an active key; otherwise what is wrong."""
        self._refresh()
        if self.error is not None:
            return self.error
        if not any(k.active for k in self._keys.values()):
            return f"no active API key in {self.path}; create one with `portrisk apikey create`"
        return None

    def verify(self, presented: str | None) -> ApiKey | None:
        """The active key matching ``presented``, or None (missing, malformed, unknown, wrong, revoked)."""
        if not presented:
            return None
        parsed = parse_key(presented)
        if parsed is None:
            return None
        key_id, secret = parsed
        self._refresh()
        key = self._keys.get(key_id)
        stored = key.hash if key is not None else _DUMMY_HASH
        matches = hmac.compare_digest(stored.encode(), hash_secret(key_id, secret).encode())
        return key if matches and key is not None and key.active else None

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if self._loaded and stamp == self._stamp:
                return
            self._stamp, self._loaded = stamp, True
            if stamp is None:
                self._keys, self.error = {}, f"API keys file {self.path} does not exist"
                return
            try:
                self._keys, self.error = {k.key_id: k for k in _load(self.path)}, None
            except KeyFileError as exc:
                # Fail closed: a file we cannot read authorises nobody, rather than yesterday's keys.
                self._keys, self.error = {}, str(exc)
