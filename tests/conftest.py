"""Shared fixtures: one real Apache Kafka broker for the whole test session.

The broker is started through the same code as `portrisk broker start` (or PORTRISK_KAFKA_BOOTSTRAP is
used when set). A test that needs Kafka fails when the broker cannot start — it never skips, in CI or
elsewhere: a skipped integration test reads as green while testing nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from portrisk.errors import PortriskError
from portrisk.settings import KAFKA_VERSION, Settings
from stream.broker import LocalBroker

_BROKER_INFO: dict[str, str] = {}


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a real broker: PORTRISK_KAFKA_BOOTSTRAP, or a local one for this session."""
    given = os.environ.get("PORTRISK_KAFKA_BOOTSTRAP")
    if given:
        _BROKER_INFO.update(bootstrap=given, version="(external)")
        yield given
        return
    cache = Path(os.environ.get("PORTRISK_CACHE_DIR", Path.home() / ".cache" / "portrisk"))
    broker = LocalBroker(run_dir=tmp_path_factory.mktemp("kafka"), cache_dir=cache, version=KAFKA_VERSION)
    try:
        state = broker.start()
    except PortriskError as exc:
        pytest.fail(f"the Kafka broker for the tests could not start: {exc}", pytrace=False)
    _BROKER_INFO.update(bootstrap=state.bootstrap, version=broker.logged_version() or "?",
                        log=str(broker.log_file))
    try:
        yield state.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A unique topic-name prefix, so tests sharing the broker never see each other's records."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Settings:
    """Settings pointing at the session broker with this test's own topics and home directory."""
    return Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, partitions=3,
                    home=tmp_path / "home")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _BROKER_INFO:
        terminalreporter.write_line(
            f"Kafka tests ran against Apache Kafka {_BROKER_INFO['version']} at {_BROKER_INFO['bootstrap']}")
