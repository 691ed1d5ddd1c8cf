"""Everything the request handlers share, built once per process from Settings (never at import)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from api.audit import AuditLog
from api.kafka_io import KafkaGateway
from api.keys import KeyStore, default_keys_file
from api.model import ModelHolder
from api.read_model import ReadModel, open_store
from portrisk.metrics import ApiMetrics
from portrisk.settings import Settings
from stream.topics import TopicNames

# Under steady load the read model trails the log by the records of one poll; readiness should not flap.
DEFAULT_MAX_READY_LAG = 1000


def read_model_path(settings: Settings) -> Path:
    """Where the read model's SQLite database lives."""
    return settings.home / "api" / "read_model.sqlite3"


def keys_file(settings: Settings) -> Path:
    """The API keys file in force."""
    return settings.api_keys_file or default_keys_file(settings.home)


@dataclass
class Services:
    """The API's shared components; ``start``/``close`` bracket the server's life."""

    settings: Settings
    topics: TopicNames
    keys: KeyStore
    kafka: KafkaGateway
    audit: AuditLog
    read_model: ReadModel
    model: ModelHolder
    metrics: ApiMetrics
    registry: CollectorRegistry
    max_ready_lag: int = DEFAULT_MAX_READY_LAG

    def start(self) -> None:
        """Start the read model thread and the background model load."""
        self.read_model.start()
        self.model.load_in_background()

    def close(self) -> None:
        """Stop the read model, close Kafka connections and the database."""
        self.read_model.stop()
        self.model.close()
        self.kafka.close()
        self.read_model.store.close()


def build_services(settings: Settings, bootstrap: Callable[[], str], *, rebuild: bool = False,
                   model_loader: Callable[[], Any] | None = None,
                   max_ready_lag: int = DEFAULT_MAX_READY_LAG) -> Services:
    """Wire the components; ``bootstrap`` is asked for the Kafka address whenever a connection is (re)made."""
    registry = CollectorRegistry()
    metrics = ApiMetrics(registry)
    topics = TopicNames.from_settings(settings)
    kafka = KafkaGateway(bootstrap)
    read_model = ReadModel(open_store(read_model_path(settings)), bootstrap=bootstrap,
                           scores_topic=topics.risk_scores, outcomes_topic=topics.outcomes,
                           known_ports=settings.port_ids, metrics=metrics)
    if rebuild:
        read_model.rebuild()
    if model_loader is None:
        from portrisk.assembly import build_decision_path

        def model_loader() -> Any:
            return build_decision_path(settings)

    return Services(settings=settings, topics=topics, keys=KeyStore(keys_file(settings)), kafka=kafka,
                    audit=AuditLog(kafka, topics.audit_log, metrics), read_model=read_model,
                    model=ModelHolder(model_loader), metrics=metrics, registry=registry,
                    max_ready_lag=max_ready_lag)
