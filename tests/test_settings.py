from __future__ import annotations

import pytest

from portrisk.errors import ConfigError
from portrisk.settings import Settings, load_settings


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTRISK_KAFKA_BOOTSTRAP", "kafka-1:9092")
    monkeypatch.setenv("PORTRISK_PARTITIONS", "12")
    settings = load_settings()
    assert settings.kafka_bootstrap == "kafka-1:9092"
    assert settings.partitions == 12


def test_unset_bootstrap_means_local_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTRISK_KAFKA_BOOTSTRAP", raising=False)
    assert load_settings().kafka_bootstrap is None


def test_ports_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTRISK_PORTS", '[{"id": "rotterdam", "name": "R", "containers_per_day": 100, '
                                         '"capacity_per_day": 2}]')
    settings = load_settings()
    assert settings.port_ids == ("rotterdam",)
    assert settings.port("rotterdam").capacity_per_day == 2


def test_invalid_values_give_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTRISK_PARTITIONS", "0")
    with pytest.raises(ConfigError, match="PORTRISK_PARTITIONS"):
        load_settings()


def test_unknown_port_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="rotterdam"):
        Settings().port("antwerp")


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(Exception, match="frozen"):
        settings.partitions = 3  # type: ignore[misc]


def test_default_ports_are_the_five_mainports() -> None:
    settings = Settings()
    assert set(settings.port_ids) == {"rotterdam", "amsterdam", "vlissingen", "moerdijk", "schiphol"}
    rotterdam = settings.port("rotterdam")
    # DOMAIN.md: ~55,000 scans a year on ~8.5 M containers, i.e. well under 1 %.
    assert rotterdam.capacity_per_day / rotterdam.containers_per_day < 0.01
