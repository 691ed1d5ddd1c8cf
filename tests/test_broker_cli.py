"""The `portrisk broker` verbs, run as a user runs them: as a subprocess with its own PORTRISK_HOME."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kafka

PORTRISK = [sys.executable, "-m", "portrisk.cli"]


def run(args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(PORTRISK + args, env=env, capture_output=True, text=True, timeout=timeout)


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PORTRISK_KAFKA_BOOTSTRAP"}
    env["PORTRISK_HOME"] = str(home)
    return env


def test_start_twice_status_stop_twice(tmp_path: Path, kafka_bootstrap: str) -> None:
    # kafka_bootstrap makes sure the jar cache is warm; this test starts a broker of its own.
    env = base_env(tmp_path / "home")
    first = run(["broker", "start"], env)
    assert first.returncode == 0, first.stderr
    address = first.stdout.strip().splitlines()[-1]
    assert address.startswith("127.0.0.1:")
    assert "Apache Kafka 4." in first.stdout
    try:
        second = run(["broker", "start"], env)
        assert second.returncode == 0, second.stderr
        assert second.stdout.strip().splitlines()[-1] == address  # idempotent: same broker

        status = run(["broker", "status"], env)
        assert status.returncode == 0
        assert address in status.stdout and "Apache Kafka 4." in status.stdout
    finally:
        stop = run(["broker", "stop"], env)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    again = run(["broker", "stop"], env)
    assert again.returncode == 0 and "no local broker" in again.stdout
    down = run(["broker", "status"], env)
    assert down.returncode == 3 and down.stdout.startswith("down")


def _path_without(tool: str, tmp_path: Path) -> str:
    """A PATH holding python and every tool except `tool` (linked one by one)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("java", "mvn"):
        found = shutil.which(name)
        if name != tool and found:
            (bin_dir / name).symlink_to(found)
    return str(bin_dir)


@pytest.mark.parametrize("tool", ["java", "mvn"])
def test_missing_tool_gives_one_line_error(tool: str, tmp_path: Path) -> None:
    env = base_env(tmp_path / "home")
    env["PATH"] = _path_without(tool, tmp_path)
    env["PORTRISK_CACHE_DIR"] = str(tmp_path / "empty-cache")  # forces a download, which needs mvn
    result = run(["broker", "start"], env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"`{tool}` was not found on PATH" in lines[0]
    assert "Traceback" not in result.stderr


def test_port_in_use_gives_one_line_error(tmp_path: Path, kafka_bootstrap: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = base_env(tmp_path / "home")
        env["PORTRISK_BROKER_PORT"] = str(taken.getsockname()[1])
        result = run(["broker", "start"], env)
    assert result.returncode == 1
    assert "is in use" in result.stderr and "PORTRISK_BROKER_PORT" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
