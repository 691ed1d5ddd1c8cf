"""The topic set of a portrisk deployment, derived from Settings, and its idempotent creation.

Every topic keyed by shipper id (the per-port manifest topics, inspection outcomes, the state changelog)
has the same partition count, so that partition *n* of each holds the same shippers and one worker owns
all of a shipper's events (co-partitioning). ``risk-scores`` and the changelog are compacted: the latest
record per key is what matters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from portrisk.errors import BrokerError, ConfigError

DAY_MS = 24 * 3600 * 1000
TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code


@dataclass(frozen=True)
class TopicSpec:
    """A topic's name, partition count and topic-level configuration."""

    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)
    co_partitioned: bool = True


@dataclass(frozen=True)
class TopicNames:
    """Topic names for one deployment: a prefix (for isolation) plus the fixed layout."""

    prefix: str
    port_ids: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: object) -> TopicNames:
        return cls(prefix=settings.topic_prefix, port_ids=settings.port_ids)  # type: ignore[attr-defined]

    def manifests(self, port_id: str) -> str:
        self._check_port(port_id)
        return f"{self.prefix}manifests.{port_id}"

    def recommendations(self, port_id: str) -> str:
        self._check_port(port_id)
        return f"{self.prefix}scan-recommendations.{port_id}"

    @property
    def all_manifests(self) -> list[str]:
        return [self.manifests(p) for p in self.port_ids]

    @property
    def dlq(self) -> str:
        return f"{self.prefix}manifests.dlq"

    @property
    def risk_scores(self) -> str:
        return f"{self.prefix}risk-scores"

    @property
    def outcomes(self) -> str:
        return f"{self.prefix}inspection-outcomes"

    @property
    def audit_log(self) -> str:
        return f"{self.prefix}audit-log"

    @property
    def changelog(self) -> str:
        return f"{self.prefix}shipper-state-changelog"

    @property
    def policy_state(self) -> str:
        return f"{self.prefix}policy-state"

    def port_of_manifest_topic(self, topic: str) -> str | None:
        """The port id of a ``manifests.<port>`` topic, or None for any other topic."""
        for p in self.port_ids:
            if topic == self.manifests(p):
                return p
        return None

    def _check_port(self, port_id: str) -> None:
        if port_id not in self.port_ids:
            raise ConfigError(f"unknown port {port_id!r}; configured ports: {', '.join(self.port_ids)}")


def topic_specs(names: TopicNames, partitions: int) -> list[TopicSpec]:
    """Every topic a deployment needs, with its configuration."""
    compacted = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
    specs = [TopicSpec(names.manifests(p), partitions, {"retention.ms": str(7 * DAY_MS)}) for p in names.port_ids]
    specs += [
        TopicSpec(names.outcomes, partitions, {"retention.ms": "-1"}),
        TopicSpec(names.changelog, partitions, dict(compacted)),
        # The selection policy's state per consumer group (stream.policy_state): one small topic.
        # Hourly segments: compaction never touches the open one, and a worker reads the topic from the start.
        TopicSpec(names.policy_state, 1, {**compacted, "segment.ms": str(3_600_000),
                                          "min.cleanable.dirty.ratio": "0.1"}, co_partitioned=False),
        TopicSpec(names.risk_scores, partitions, dict(compacted), co_partitioned=False),
        TopicSpec(names.dlq, partitions, {"retention.ms": str(30 * DAY_MS)}, co_partitioned=False),
        # Who looked at which score is evidence in an insider investigation: keep it forever.
        TopicSpec(names.audit_log, 1, {"retention.ms": "-1"}, co_partitioned=False),
    ]
    specs += [
        TopicSpec(names.recommendations(p), partitions, {"retention.ms": str(30 * DAY_MS)}, co_partitioned=False)
        for p in names.port_ids
    ]
    return specs


@dataclass(frozen=True)
class TopicReport:
    created: list[str]
    existing: list[str]


def create_topics(bootstrap: str, specs: Iterable[TopicSpec], timeout_s: float = 30.0) -> TopicReport:
    """Create the missing topics; existing ones are left alone (idempotent).

    An existing co-partitioned topic whose partition count differs from the spec is an error: shippers
    would land on different partitions in different topics and one worker would no longer own them.
    """
    specs = list(specs)
    admin = _admin(bootstrap, timeout_s)
    try:
        existing = set(admin.list_topics())
        missing = {s.name: s for s in specs if s.name not in existing}
        created: list[str] = []
        if missing:
            request = {name: {"num_partitions": s.partitions, "replication_factor": 1, "configs": s.configs}
                       for name, s in missing.items()}
            response = admin.create_topics(request, timeout_ms=int(timeout_s * 1000), raise_errors=False,
                                           wait_for_metadata=True)
            failures = []
            for result in _topic_results(response):
                if result["error_code"] == 0:
                    created.append(result["name"])
                elif result["error_code"] != TOPIC_ALREADY_EXISTS:  # a concurrent creator won the race
                    failures.append(f"{result['name']}: {result.get('error_message') or result['error_code']}")
            if failures:
                raise BrokerError("could not create topics: " + "; ".join(failures))
        present = [s for s in specs if s.name not in created]
        counts = partition_counts(admin, [s.name for s in present])
        wrong = [f"{s.name} has {counts[s.name]}, expected {s.partitions}"
                 for s in present if s.co_partitioned and counts.get(s.name) != s.partitions]
        if wrong:
            raise ConfigError("co-partitioned topics with the wrong partition count: " + "; ".join(wrong))
        return TopicReport(created=created, existing=[s.name for s in present])
    except KafkaError as exc:
        raise BrokerError(f"could not create topics on {bootstrap}: {exc}") from exc
    finally:
        admin.close()


def delete_topics(bootstrap: str, prefixes: Iterable[str], timeout_s: float = 30.0) -> list[str]:
    """Delete every topic whose name starts with one of ``prefixes`` (a run's topics: a demo's, a
    benchmark's); returns the names deleted."""
    starts = tuple(prefixes)
    if not starts:
        return []
    admin = _admin(bootstrap, timeout_s)
    try:
        present = sorted(t for t in admin.list_topics() if t.startswith(starts))
        if present:
            admin.delete_topics(present, timeout_ms=int(timeout_s * 1000))
        return present
    except KafkaError as exc:
        raise BrokerError(f"could not delete topics on {bootstrap}: {exc}") from exc
    finally:
        admin.close()


def _topic_results(response: dict[str, Any]) -> list[dict[str, Any]]:
    return list(response.get("topics", []))


def list_topics(bootstrap: str, timeout_s: float = 15.0) -> dict[str, int]:
    """Topic name -> partition count of every non-internal topic."""
    admin = _admin(bootstrap, timeout_s)
    try:
        names = [t for t in admin.list_topics() if not t.startswith("__")]
        return partition_counts(admin, names)
    except KafkaError as exc:
        raise BrokerError(f"could not list topics on {bootstrap}: {exc}") from exc
    finally:
        admin.close()


def partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    if not names:
        return {}
    return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names)}


def _admin(bootstrap: str, timeout_s: float) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap, client_id="portrisk-admin", request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
        )
    except KafkaError as exc:
        raise BrokerError(
            f"Kafka at {bootstrap} is not reachable ({exc}); start the local one with `portrisk broker start` "
            "or set PORTRISK_KAFKA_BOOTSTRAP"
        ) from exc
