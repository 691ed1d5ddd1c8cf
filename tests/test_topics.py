from __future__ import annotations

import pytest

from portrisk.errors import ConfigError
from portrisk.settings import Settings
from stream.topics import TopicNames, create_topics, list_topics, topic_specs

pytestmark = pytest.mark.kafka


def test_create_is_idempotent_with_equal_partition_counts(kafka_settings: Settings) -> None:
    names = TopicNames.from_settings(kafka_settings)
    specs = topic_specs(names, kafka_settings.partitions)
    assert kafka_settings.kafka_bootstrap is not None
    first = create_topics(kafka_settings.kafka_bootstrap, specs)
    assert sorted(first.created) == sorted(s.name for s in specs)
    second = create_topics(kafka_settings.kafka_bootstrap, specs)
    assert second.created == []
    assert sorted(second.existing) == sorted(s.name for s in specs)

    counts = list_topics(kafka_settings.kafka_bootstrap)
    for port in kafka_settings.port_ids:
        assert counts[names.manifests(port)] == 3
        assert counts[names.recommendations(port)] == 3
    for name in (names.outcomes, names.changelog, names.risk_scores, names.dlq):
        assert counts[name] == 3
    assert counts[names.audit_log] == 1
    assert counts[names.policy_state] == 1


def test_expected_topic_set(kafka_settings: Settings) -> None:
    names = TopicNames.from_settings(kafka_settings)
    p = kafka_settings.topic_prefix
    got = {s.name for s in topic_specs(names, 3)}
    expected = {f"{p}manifests.{port}" for port in kafka_settings.port_ids}
    expected |= {f"{p}scan-recommendations.{port}" for port in kafka_settings.port_ids}
    expected |= {f"{p}manifests.dlq", f"{p}risk-scores", f"{p}inspection-outcomes", f"{p}audit-log",
                 f"{p}shipper-state-changelog", f"{p}policy-state"}
    assert got == expected
    compacted = {s.name for s in topic_specs(names, 3) if s.configs.get("cleanup.policy") == "compact"}
    assert compacted == {f"{p}risk-scores", f"{p}shipper-state-changelog", f"{p}policy-state"}


def test_mismatched_partition_count_is_refused(kafka_settings: Settings) -> None:
    names = TopicNames.from_settings(kafka_settings)
    assert kafka_settings.kafka_bootstrap is not None
    create_topics(kafka_settings.kafka_bootstrap, topic_specs(names, 3))
    with pytest.raises(ConfigError, match=r"manifests\.rotterdam has 3, expected 4"):
        create_topics(kafka_settings.kafka_bootstrap, topic_specs(names, 4))


def test_unknown_port_topic_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="antwerp"):
        TopicNames(prefix="", port_ids=("rotterdam",)).manifests("antwerp")
