"""API keys: hashed storage, verification, revocation, the fail-closed server view, and the CLI."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from api.keys import KeyStore, create_key, list_keys, revoke_key
from portrisk.cli import main
from portrisk.errors import ConfigError

PORTS = ("rotterdam", "amsterdam")


def test_only_the_hash_is_stored_and_the_key_verifies(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    record, key = create_key(path, role="inspector", name="rtm scan team", ports=["rotterdam"], known_ports=PORTS)

    secret = key.split(".", 2)[2]
    assert secret not in path.read_text() and record.hash.startswith("sha256:")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store = KeyStore(path)
    assert store.verify(key) == record
    assert store.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None  # wrong secret
    assert store.verify(f"prk.{'0' * 12}.{secret}") is None  # unknown id
    for garbage in (None, "", "Bearer x", "prk..x", "prk.NOTHEX123456.x", key + ".extra" * 30):
        assert store.verify(garbage) is None


def test_revoked_keys_stop_verifying_and_stay_listed(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    record, key = create_key(path, role="security", name="analyst", known_ports=PORTS)
    store = KeyStore(path)
    assert store.verify(key) is not None

    revoke_key(path, record.key_id)

    assert store.verify(key) is None  # the store notices the file changed
    assert [k.revoked_at is not None for k in list_keys(path)] == [True]
    with pytest.raises(ConfigError, match="no API key"):
        revoke_key(path, "000000000000")


@pytest.mark.parametrize(("role", "ports", "message"), [
    ("inspector", [], "needs at least one --port"),
    ("security", ["rotterdam"], "only inspector keys"),
    ("inspector", ["hamburg"], "unknown port"),
    ("janitor", [], "unknown role"),
])
def test_keys_are_checked_when_created(tmp_path: Path, role: str, ports: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_key(tmp_path / "keys.json", role=role, name="x", ports=ports, known_ports=PORTS)


def test_an_unreadable_keys_file_authorises_nobody(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    _, key = create_key(path, role="admin", name="root", known_ports=PORTS)
    store = KeyStore(path)
    assert store.verify(key) is not None and store.status() is None

    path.write_text(json.dumps({"format": 1, "keys": [{"key_id": "x"}]}))

    assert store.verify(key) is None
    assert "malformed entry" in (store.status() or "")
    assert "does not exist" in (KeyStore(tmp_path / "missing.json").status() or "")


def test_the_cli_prints_a_key_once_and_lists_without_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PORTRISK_HOME", str(tmp_path))
    assert main(["apikey", "create", "--role", "inspector", "--port", "rotterdam", "--port", "amsterdam",
                 "--name", "night shift"]) == 0
    created = capsys.readouterr().out
    key = created.strip().splitlines()[-1]
    key_id = key.split(".")[1]
    assert key.startswith("prk.") and "rotterdam, amsterdam" in created

    assert main(["apikey", "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "night shift" in listing and key.split(".")[2] not in listing

    assert main(["apikey", "revoke", key_id]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["apikey", "revoke", "000000000000"]) == 1
    assert "no API key" in capsys.readouterr().err
    assert KeyStore(tmp_path / "api" / "keys.json").verify(key) is None
