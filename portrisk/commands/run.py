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
                    "PORTRISK_METRICS_HOST:PORTRISK_METRICS_PORT. SIGTERM/SIGINT finish the batch, flush, commit "
                    "and exit.")
    run.add_argument("--idle-exit", type=float, default=None, metavar="SECONDS",
                     help="exit after this many seconds without input (batch jobs, tests)")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from prometheus_client import CollectorRegistry, start_http_server

    from portrisk.assembly import build_worker
    from portrisk.metrics import WorkerMetrics

    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    worker = build_worker(settings, metrics)
    server, _thread = start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    # The actual port matters when PORTRISK_METRICS_PORT=0 picked a free one.
    print(f"metrics at http://{settings.metrics_host}:{server.server_port}/metrics", flush=True)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing the batch, then stopping", signal.Signals(signum).name)
        worker.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker starting", extra={"group": settings.worker_group})
    worker.run(idle_exit_s=args.idle_exit)
    server.shutdown()
    return 0
