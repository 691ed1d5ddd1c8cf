"""`portrisk run`: the streaming worker, with its Prometheus endpoint."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType

from portrisk.settings import Settings

log = logging.getLogger("portrisk.worker")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run", help="run a streaming worker: manifests.<port> in, decisions and scan recommendations out",
        description="Join the worker consumer group (PORTRISK_WORKER_GROUP) over every manifests.<port> topic "
                    "and inspection-outcomes; publish a decision per container to risk-scores and flagged "
                    "containers to scan-recommendations.<port>; serve Prometheus metrics on "
                    "PORTRISK_METRICS_PORT. SIGTERM/SIGINT finish the batch, flush, commit and exit.")
    run.add_argument("--idle-exit", type=float, default=None, metavar="SECONDS",
                     help="exit after this many seconds without input (batch jobs, tests)")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from prometheus_client import CollectorRegistry, start_http_server

    from portrisk.assembly import build_decision_path
    from portrisk.kafka_env import bootstrap_servers
    from portrisk.metrics import WorkerMetrics
    from stream.batch import BatchProcessor
    from stream.state_store import PartitionedStore
    from stream.topics import TopicNames
    from stream.worker import Worker, WorkerConfig

    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    path = build_decision_path(settings, metrics)
    metrics.model.info({"version": path.model_version, "feature_hash": path.feature_hash,
                        "loaded": "false" if path.model_error else "true"})
    for port in settings.ports:
        metrics.capacity.labels(port.id).set(port.capacity_per_day)
    server, _thread = start_http_server(settings.metrics_port, addr="127.0.0.1", registry=registry)
    log.info("metrics at http://127.0.0.1:%d/metrics", server.server_port)

    topics = TopicNames.from_settings(settings)
    processor = BatchProcessor(topics=topics, known_ports=settings.port_ids, pipeline=path.pipeline,
                               scorer=path.scorer, policy=path.policy, explainer=path.explainer,
                               model_version=path.model_version, metrics=metrics,
                               reasons_k=settings.reasons_per_decision)
    store = PartitionedStore(path.pipeline.state_type)
    config = WorkerConfig(bootstrap=bootstrap_servers(settings), topics=topics, group_id=settings.worker_group,
                          max_batch=settings.max_batch)
    worker = Worker(config, processor, store, metrics)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing the batch, then stopping", signal.Signals(signum).name)
        worker.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker starting", extra={"group": settings.worker_group, "model": path.model_version})
    worker.run(idle_exit_s=args.idle_exit)
    server.shutdown()
    return 0
