"""Streaming worker throughput and latency through a real Apache Kafka broker.

Measures, in one run against one broker:
  * baseline: a pass-through consumer→producer (decode, forward, commit) — the Kafka client's ceiling here;
  * sustained events/s of one worker on a pre-published backlog, and of two worker processes;
  * decision latency p50/p99 (publish → acknowledged decision) at 500 and 2,000 events/s offered load.

Usage: python benchmarks/bench_worker.py [--events N] [--quick]   (JSON to benchmarks/results/worker.json)
Uses PORTRISK_KAFKA_BOOTSTRAP or starts the local broker. Every measurement gets topics of its own
(``bench<hex>.*``); they are deleted when the run ends, failed or not.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import numpy as np
import orjson
from prometheus_client import CollectorRegistry
from results_file import add_out_argument, save_results

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from stream_support import publish, read_topic, world_payloads

from features.contract import decode_manifest
from portrisk.assembly import build_worker
from portrisk.errors import PortriskError
from portrisk.kafka_env import bootstrap_servers
from portrisk.metrics import WorkerMetrics
from portrisk.settings import Settings, load_settings
from stream.kafka_clients import make_consumer, make_producer
from stream.topics import TopicNames, create_topics, delete_topics, topic_specs


def fresh_settings(base: Settings, bootstrap: str, home: Path, prefixes: list[str]) -> Settings:
    """Settings with topics of their own; their prefix goes into `prefixes` before they are created."""
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    prefixes.append(prefix)
    settings = base.model_copy(update={"kafka_bootstrap": bootstrap, "topic_prefix": prefix, "home": home,
                                       "metrics_port": 0, "worker_group": prefix + "workers"})
    create_topics(bootstrap, topic_specs(TopicNames.from_settings(settings), settings.partitions))
    return settings


def passthrough(settings: Settings, n: int) -> tuple[float, float]:
    """Decode each manifest and forward it, committing per batch: no features, no model.

    Returns (events/s, events per CPU second of this process): on a shared machine the scheduler takes
    the core away at times, and the second figure does not depend on that.
    """
    assert settings.kafka_bootstrap
    topics = TopicNames.from_settings(settings)
    consumer = make_consumer(settings.kafka_bootstrap, settings.topic_prefix + "pass", max_poll_records=1000)
    consumer.subscribe(topics.all_manifests)
    producer = make_producer(settings.kafka_bootstrap)
    done, began = 0, None
    cpu = time.process_time()
    while done < n:
        for records in consumer.poll(timeout_ms=200).values():
            began = began or time.perf_counter()
            for r in records:
                decode_manifest(r.value, settings.port_ids)
                producer.send(topics.risk_scores, key=r.key, value=r.value)
            done += len(records)
        producer.flush()
        consumer.commit()
    elapsed = time.perf_counter() - (began or time.perf_counter())
    cpu = time.process_time() - cpu
    consumer.close()
    producer.close()
    return n / elapsed, n / cpu


def latencies(settings: Settings) -> np.ndarray:
    assert settings.kafka_bootstrap
    out = []
    for r in read_topic(settings.kafka_bootstrap, TopicNames.from_settings(settings).risk_scores):
        d = orjson.loads(r.value)
        out.append(datetime.fromisoformat(d["decided_at"]).timestamp() - d["source"]["timestamp_ms"] / 1000)
    return np.array(out)


def throughput_from_decisions(settings: Settings) -> float:
    """Events/s between the first and last decision (excludes start-up and idle tail)."""
    assert settings.kafka_bootstrap
    stamps = sorted(datetime.fromisoformat(orjson.loads(r.value)["decided_at"]).timestamp()
                    for r in read_topic(settings.kafka_bootstrap, TopicNames.from_settings(settings).risk_scores))
    span = stamps[-1] - stamps[0] if stamps else 0.0
    if span <= 0.0:  # too few events to time (all decided in one batch): say so rather than divide by zero
        raise SystemExit(f"{len(stamps)} decisions within one instant: too few events to measure throughput")
    return (len(stamps) - 1) / span


def one_worker(settings: Settings, payloads: list[bytes]) -> tuple[float, float]:
    """(events/s between the first and last decision, events per CPU second of the worker's process)."""
    publish(settings, payloads)
    worker = build_worker(settings, WorkerMetrics(CollectorRegistry()))
    cpu = time.process_time()
    worker.run(idle_exit_s=3)
    return throughput_from_decisions(settings), len(payloads) / (time.process_time() - cpu)


def worker_processes(settings: Settings, payloads: list[bytes], count: int) -> float:
    publish(settings, payloads)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTRISK_")}
    env.update({"PORTRISK_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "", "PORTRISK_TOPIC_PREFIX":
                settings.topic_prefix, "PORTRISK_HOME": str(settings.home), "PORTRISK_METRICS_PORT": "0",
                "PORTRISK_WORKER_GROUP": settings.worker_group})
    procs = [subprocess.Popen([sys.executable, "-m", "portrisk.cli", "run", "--idle-exit", "4"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(count)]
    for p in procs:
        p.wait(600)
    return throughput_from_decisions(settings)


def at_rate(settings: Settings, payloads: list[bytes], rate: float) -> dict[str, float]:
    registry = CollectorRegistry()
    worker = build_worker(settings, WorkerMetrics(registry))
    thread = threading.Thread(target=worker.run, kwargs={"idle_exit_s": 10}, daemon=True)
    thread.start()
    # Offered load starts once the worker owns its partitions (joined, state and policy restored): start-up
    # is not decision latency.
    deadline = time.monotonic() + 120
    while not registry.get_sample_value("portrisk_assigned_partitions"):
        if time.monotonic() > deadline:
            raise SystemExit("the worker was not assigned its partitions within 120 s")
        time.sleep(0.1)
    assert settings.kafka_bootstrap
    topics = TopicNames.from_settings(settings)
    producer = make_producer(settings.kafka_bootstrap, linger_ms=0)
    began = time.perf_counter()
    for i, payload in enumerate(payloads):
        ahead = began + i / rate - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
        doc = orjson.loads(payload)
        producer.send(topics.manifests(doc["mainport"]), key=doc["shipper_id"].encode(), value=payload)
    producer.flush()
    producer.close()
    thread.join(600)
    lat = latencies(settings)
    return {"rate": rate, "events": len(lat), "p50_ms": float(np.percentile(lat, 50) * 1000),
            "p99_ms": float(np.percentile(lat, 99) * 1000), "max_ms": float(lat.max() * 1000)}


def delete_bench_topics(bootstrap: str, prefixes: list[str]) -> None:
    """Delete every topic under this run's prefixes; a failure here is reported, never raised."""
    try:
        deleted = delete_topics(bootstrap, prefixes)
    except PortriskError as exc:
        print(f"could not delete this run's topics ({', '.join(prefixes)}): {exc}", file=sys.stderr)
        return
    print(f"deleted {len(deleted)} benchmark topics ({len(prefixes)} prefixes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--quick", action="store_true", help="a smoke run with few events")
    parser.add_argument("--latency-only", action="store_true", help="skip the multi-process throughput runs")
    add_out_argument(parser, "worker")
    args = parser.parse_args()
    base = load_settings()
    bootstrap = bootstrap_servers(base, start_local=True)
    prefixes: list[str] = []
    try:
        measure(args, base, bootstrap, prefixes)
    finally:
        delete_bench_topics(bootstrap, prefixes)


def measure(args: argparse.Namespace, base: Settings, bootstrap: str, prefixes: list[str]) -> None:
    n = 6_000 if args.quick else args.events
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"portrisk-bench-{os.getpid()}"
    scale = n / sum(p.containers_per_day for p in base.ports) / 1.04  # amendments add ~4 %
    payloads = world_payloads(base.ports, days=1, seed=99, scale=scale)[:n]
    print(f"{len(payloads):,} events, broker {bootstrap}")
    results: dict[str, object] = {"events": len(payloads), "machine": {"cpus": os.cpu_count()}}

    def fresh() -> Settings:
        return fresh_settings(base, bootstrap, home, prefixes)

    baseline_settings = fresh()
    publish(baseline_settings, payloads)
    passthrough_run, passthrough_cpu = passthrough(baseline_settings, len(payloads))
    results["baseline_passthrough_events_per_s"] = passthrough_run
    results["baseline_passthrough_events_per_cpu_s"] = passthrough_cpu
    print(f"baseline pass-through      {passthrough_run:10,.0f} events/s  ({passthrough_cpu:,.0f} per CPU second)")
    one, one_cpu = one_worker(fresh(), payloads)
    results["one_worker_events_per_s"], results["one_worker_events_per_cpu_s"] = one, one_cpu
    print(f"one worker (in process)    {one:10,.0f} events/s  ({one_cpu:,.0f} per CPU second)")
    results["load_average_1min"] = os.getloadavg()[0]
    if not args.latency_only:
        results["two_worker_processes_events_per_s"] = two = worker_processes(fresh(), payloads, 2)
        print(f"two worker processes       {two:10,.0f} events/s")
        results["one_worker_process_events_per_s"] = one_p = worker_processes(fresh(), payloads, 1)
        print(f"one worker process         {one_p:10,.0f} events/s")
    latencies: list[dict[str, float]] = []
    results["latency"] = latencies
    for rate in (500.0, 2000.0):
        count = int(min(len(payloads), rate * (10 if args.quick else 30)))
        lat = at_rate(fresh(), payloads[:count], rate)
        latencies.append(lat)
        print(f"latency at {rate:6,.0f}/s       p50 {lat['p50_ms']:7.1f} ms  p99 {lat['p99_ms']:7.1f} ms  "
              f"max {lat['max_ms']:7.1f} ms  ({lat['events']:,} events)")
    save_results(results, args.out)


if __name__ == "__main__":
    main()
