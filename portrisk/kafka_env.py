"""Where this process finds Kafka: the user's cluster (PORTRISK_KAFKA_BOOTSTRAP) or the local broker."""

from __future__ import annotations

from portrisk.errors import BrokerError
from portrisk.settings import Settings
from stream.broker import LocalBroker


def local_broker(settings: Settings) -> LocalBroker:
    """The local broker of this installation (run dir under ``settings.home``)."""
    return LocalBroker(run_dir=settings.home / "broker", cache_dir=settings.cache_dir,
                       version=settings.kafka_version, heap=settings.broker_heap, port=settings.broker_port)


def bootstrap_servers(settings: Settings, start_local: bool = False) -> str:
    """The bootstrap address to use; with ``start_local`` the local broker is started when needed."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    broker = local_broker(settings)
    if start_local:
        return broker.start().bootstrap
    status = broker.status()
    if not status.up or status.bootstrap is None:
        raise BrokerError("no Kafka to talk to: start the local broker with `portrisk broker start` "
                          "or set PORTRISK_KAFKA_BOOTSTRAP to your cluster")
    return status.bootstrap
