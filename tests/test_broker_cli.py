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


_MAVEN_HELP_TAIL = "".join(f"[ERROR] {line}\n" for line in [
    "",
    "To see the full stack trace of the errors, re-run Maven with the -e switch.",
    "Re-run Maven using the -X switch to enable full debug logging.",
    "",
    "For more information about the errors and possible solutions, please read the following articles:",
    "[Help 1] http://cwiki.apache.org/confluence/display/MAVEN/{exception}",
])
# What Maven 3.8/3.9 prints (stdout, ANSI resets included) for a version that does not exist, a host
# that does not resolve, and no network before its dependency plugin was ever downloaded.
_MAVEN_FAILURES = {
    "missing-version": (
        "\x1b[0m\x1b[0m[INFO] Scanning for projects...\n[INFO] BUILD FAILURE\n"
        "[ERROR] Failed to execute goal on project local-kafka: Could not resolve dependencies for project "
        "portrisk:local-kafka:jar:1: Could not find artifact org.apache.kafka:kafka_2.13:jar:4.99.0 in central "
        "(https://repo.maven.apache.org/maven2) -> [Help 1]\n"
        + _MAVEN_HELP_TAIL.format(exception="DependencyResolutionException"),
        "Could not find artifact org.apache.kafka:kafka_2.13:jar:4.99.0 in central",
        "PORTRISK_KAFKA_VERSION"),
    "unknown-host": (
        "[INFO] Scanning for projects...\n[INFO] BUILD FAILURE\n"
        "[ERROR] Failed to execute goal on project local-kafka: Could not resolve dependencies for project "
        "portrisk:local-kafka:jar:1: Failed to collect dependencies at org.apache.kafka:kafka_2.13:jar:4.99.0: "
        "Failed to read artifact descriptor for org.apache.kafka:kafka_2.13:jar:4.99.0: Could not transfer "
        "artifact org.apache.kafka:kafka_2.13:pom:4.99.0 from/to central (https://repo.maven.apache.org/maven2): "
        "Transfer failed for https://repo.maven.apache.org/maven2/org/apache/kafka/kafka_2.13/4.99.0/"
        "kafka_2.13-4.99.0.pom: Unknown host repo.maven.apache.org: Temporary failure in name resolution "
        "-> [Help 1]\n"
        + _MAVEN_HELP_TAIL.format(exception="DependencyResolutionException"),
        "Unknown host repo.maven.apache.org: Temporary failure in name resolution",
        "reachable from this machine"),
    "no-network-no-plugin": (
        "[INFO] Scanning for projects...\n"
        "[INFO] Downloading from central: https://repo.maven.apache.org/maven2/org/apache/maven/plugins/"
        "maven-metadata.xml\n"
        "[WARNING] Could not transfer metadata org.apache.maven.plugins/maven-metadata.xml from/to central "
        "(https://repo.maven.apache.org/maven2): Connect to repo.maven.apache.org:443 "
        "[repo.maven.apache.org/151.101.0.215] failed: Connection refused\n"
        "[INFO] BUILD FAILURE\n"
        "[ERROR] No plugin found for prefix 'dependency' in the current project and in the plugin groups "
        "[org.apache.maven.plugins, org.codehaus.mojo] available from the repositories [local "
        "(/root/.m2/repository), central (https://repo.maven.apache.org/maven2)] -> [Help 1]\n"
        + _MAVEN_HELP_TAIL.format(exception="NoPluginFoundForPrefixException"),
        "failed: Connection refused",
        "reachable from this machine"),
}


@pytest.mark.parametrize("case", sorted(_MAVEN_FAILURES))
def test_failed_jar_download_names_the_real_cause(case: str, tmp_path: Path) -> None:
    output, cause, advice = _MAVEN_FAILURES[case]
    (tmp_path / "maven-output.txt").write_text(output)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_mvn = bin_dir / "mvn"
    fake_mvn.write_text(f"#!/bin/sh\ncat '{tmp_path / 'maven-output.txt'}'\nexit 1\n")
    fake_mvn.chmod(0o755)
    env = base_env(tmp_path / "home")
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"  # the fake mvn first
    env["PORTRISK_CACHE_DIR"] = str(tmp_path / "empty-cache")
    env["PORTRISK_KAFKA_VERSION"] = "4.99.0"
    result = run(["broker", "fetch"], env, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Maven could not download Apache Kafka 4.99.0" in lines[0]
    assert cause in lines[0]
    assert advice in lines[0]
    assert "[Help 1]" not in lines[0] and "cwiki.apache.org" not in lines[0] and "[ERROR]" not in lines[0]
    assert "\x1b" not in lines[0]
    assert len(lines[0]) < 600
    assert "Traceback" not in result.stderr
