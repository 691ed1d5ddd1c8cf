"""`portrisk demo`: the whole system on one machine, end to end, in a couple of minutes.

Starts the local broker (unless PORTRISK_KAFKA_BOOTSTRAP names one), creates the topics, starts a worker
and the HTTP API as child processes with the default model, publishes a simulated day for the five
mainports at an accelerated rate, waits for every decision, prints a summary and where to look, then
keeps the services up until Ctrl-C, which stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from portrisk.settings import Settings

DEMO_TOPIC_PREFIX = "demo-"  # every run's topics and consumer group: demo-<time>-<random>[.<name>]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo", help="run everything locally: broker, worker, API, a simulated day, and a summary",
        description=__doc__)
    demo.add_argument("--days", type=int, default=1, help="simulated days to publish (default 1)")
    demo.add_argument("--scale", type=float, default=1.0, help="volume scale (default 1: real volumes)")
    demo.add_argument("--seed", type=int, default=2026, help="world seed")
    demo.add_argument("--rate", type=float, default=2000.0, help="events per second to publish (default 2000)")
    demo.add_argument("--warmup-days", type=int, default=28,
                      help="simulated days before the published ones whose shipper histories are seeded into the "
                           "worker's state first, as a deployment seeds from its history (default 28; 0: cold)")
    demo.add_argument("--exit", dest="exit_after", action="store_true",
                      help="stop everything after the summary instead of waiting for Ctrl-C")
    demo.add_argument("--with-prometheus", action="store_true",
                      help="also run a real Prometheus (Debian's prometheus package) scraping the worker and the "
                           "API with the alerts and recording rules of ops/rules/, and print its URL")
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from models.world import generate_world, make_config
    from portrisk.demo_summary import summarise
    from portrisk.kafka_env import bootstrap_servers, local_broker
    from stream.kafka_clients import make_producer
    from stream.publisher import Progress, event_messages, publish
    from stream.topics import TopicNames, create_topics, topic_specs

    if args.with_prometheus:
        from portrisk.local_prometheus import prometheus_binary

        prometheus_binary()  # fail before starting anything when it is not installed
    # SIGTERM (and SIGINT where a background shell ignored it) stop the demo like Ctrl-C, so that the
    # finally below stops every child; the children run in sessions of their own and would outlive it.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started_broker = not settings.kafka_bootstrap and not local_broker(settings).status().up
    children: list[subprocess.Popen[bytes]] = []
    prometheus: Any = None
    try:  # from the broker's start on: Ctrl-C or an error at any point stops what was started
        bootstrap = bootstrap_servers(settings, start_local=True)
        print(f"Kafka at {bootstrap}")
        run_dir = settings.home / "demo"
        run_dir.mkdir(parents=True, exist_ok=True)
        run = _fresh_namespace(settings, bootstrap, run_dir)  # the broker stays the one of ``settings``
        topics = TopicNames.from_settings(run)
        create_topics(bootstrap, topic_specs(topics, run.partitions))
        env = _child_env(run, bootstrap, run_dir)
        api_key = _demo_api_key(env, run_dir)
        world = generate_world(make_config(ports=settings.ports, days=args.warmup_days + args.days, seed=args.seed,
                                           scale=args.scale))
        # The worker restores its state when it is assigned its partitions: seed before it starts.
        world = _seed_warmup(world, args.warmup_days, run, bootstrap, topics.changelog)
        worker_port, api_port = _free_port(), _free_port()
        # The demo (and its Prometheus) probe the worker's metrics on 127.0.0.1, whatever the environment says.
        children.append(_spawn(["run"], dict(env, PORTRISK_METRICS_HOST="127.0.0.1",
                                             PORTRISK_METRICS_PORT=str(worker_port)), run_dir / "worker.log"))
        children.append(_spawn(["serve", "--port", str(api_port)], env, run_dir / "api.log"))
        if args.with_prometheus:
            prometheus = _start_prometheus(env, run_dir, worker_port, api_port)
        # Publishing before the worker owns its partitions would count its start-up (group join, state
        # restore from the changelog) as decision latency.
        _await_ready(worker_port, api_port, children)
        start_offsets = _end_offsets(bootstrap, topics.risk_scores)
        producer = make_producer(bootstrap, client_id="portrisk-demo")
        print(f"publishing {len(world.events):,} manifest events for {args.days} day(s) at {args.rate:,.0f}/s")
        try:
            publish(event_messages(world.events, topics), producer, rate=args.rate,
                    progress=Progress(len(world.events)))
        finally:
            producer.close()
        decisions = _await_decisions(bootstrap, topics.risk_scores, start_offsets, set(world.events["event_id"]),
                                     children)
        print()
        print(summarise(decisions, world, {p.id: p.capacity_per_day * args.days for p in settings.ports}))
        print()
        print(f"API docs        http://127.0.0.1:{api_port}/docs")
        print(f"API metrics     http://127.0.0.1:{api_port}/metrics")
        print(f"worker metrics  http://127.0.0.1:{worker_port}/metrics")
        if prometheus is not None:
            print(f"Prometheus      {prometheus.url}  (alerts: {prometheus.url}/alerts; dashboards: ops/dashboards/)")
        print(f"demo API key    {api_key}  (role admin; e.g. curl -H 'X-API-Key: {api_key}' "
              f"http://127.0.0.1:{api_port}/v1/ports/rotterdam/recommendations)")
        print(f"logs            {run_dir}")
        if not args.exit_after:
            print("\nservices keep running; Ctrl-C stops everything")
            while all(c.poll() is None for c in children):
                time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping")
    finally:
        if prometheus is not None:
            prometheus.stop()
        _stop(children)
        if started_broker:
            local_broker(settings).stop()
    return 0


def _seed_warmup(world: Any, days: int, settings: Settings, bootstrap: str, changelog: str) -> Any:
    """Seed the shipper histories of the world's first ``days`` into the changelog; the days to publish.

    The returned world holds the events filed from the cut to the world's last day and their outcomes
    (what is published and summarised); outcomes inspected before the cut are part of the seeded
    histories. Amendments the simulation files after its last day (of that day's containers) are left
    out: alone in a stream they would be a tail no real day has, amendments without the arrivals.
    """
    import dataclasses
    from datetime import timedelta

    from features.pipeline import FeaturePipeline
    from stream.backfill import changelog_records, history_states, seed_changelog

    events, outcomes = world.events, world.outcomes
    end = world.config.start + timedelta(days=world.config.days)
    cut = world.config.start + timedelta(days=max(days, 0))
    past = events["event_time"] < cut
    live = events[~past & (events["event_time"] < end)]
    published = dataclasses.replace(world, events=live.reset_index(drop=True),
                                    outcomes=outcomes[outcomes["event_id"].isin(set(live["event_id"]))])
    if days <= 0:
        return published
    held, _ = changelog_records(bootstrap, changelog)
    if held:  # the topics of PORTRISK_TOPIC_PREFIX already hold state: keep it
        print(f"not seeded: {changelog} already holds {held:,} state records", flush=True)
        return published
    print(f"seeding shipper histories from {days} simulated days before the published ones "
          f"({int(past.sum()):,} events)", flush=True)
    began = time.monotonic()
    states = history_states(FeaturePipeline.from_model_dir(settings.model_dir), events[past],
                            outcomes[outcomes["inspected_at"] < cut])
    seeded = seed_changelog(bootstrap, changelog, states)
    print(f"seeded {seeded:,} shipper histories in {time.monotonic() - began:.1f} s", flush=True)
    return published


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _fresh_namespace(settings: Settings, bootstrap: str, run_dir: Path) -> Settings:
    """Topics and service state of this run alone, so that every run starts from the same empty history.

    Publishing the same simulated day again into the topics of an earlier run would restore that run's
    shipper state (the day seen twice) and count its flags. Each run gets topics prefixed
    ``demo-<time>-<random>.``, a consumer group of its own and a fresh state directory; earlier runs'
    ``demo-`` topics are deleted (one demo at a time per broker: a second one removes the first's topics).
    With PORTRISK_TOPIC_PREFIX set, the demo uses those topics as they are.
    """
    import shutil

    from stream.topics import delete_topics

    if settings.topic_prefix:
        print(f"topics prefixed {settings.topic_prefix!r} (PORTRISK_TOPIC_PREFIX): earlier state is kept")
        return settings
    deleted = delete_topics(bootstrap, [DEMO_TOPIC_PREFIX])
    if deleted:
        print(f"deleted {len(deleted)} topics of earlier demo runs")
    state = run_dir / "state"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    run_id = f"{DEMO_TOPIC_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    return settings.model_copy(update={"topic_prefix": f"{run_id}.", "home": state, "worker_group": run_id})


def _child_env(settings: Settings, bootstrap: str, run_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PORTRISK_KAFKA_BOOTSTRAP": bootstrap, "PORTRISK_HOME": str(settings.home),
                "PORTRISK_TOPIC_PREFIX": settings.topic_prefix, "PORTRISK_WORKER_GROUP": settings.worker_group,
                "PORTRISK_API_KEYS_FILE": str(run_dir / "api-keys.json")})
    return env


def _start_prometheus(env: dict[str, str], run_dir: Path, worker_port: int, api_port: int) -> Any:
    """A Prometheus child scraping the demo's worker and API (with an operator key of its own)."""
    from portrisk.local_prometheus import LocalPrometheus

    key = _demo_api_key(env, run_dir, role="operator")
    apis = [f"127.0.0.1:{api_port}"] if key.startswith("prk.") else []
    if not apis:
        print(f"Prometheus will not scrape the API: {key}")
    prometheus = LocalPrometheus(run_dir / "prometheus", workers=[f"127.0.0.1:{worker_port}"], apis=apis,
                                 api_key=key if apis else None)
    try:
        print(f"Prometheus at {prometheus.start()}")
    except BaseException:
        prometheus.stop()
        raise
    return prometheus


def _demo_api_key(env: dict[str, str], run_dir: Path, role: str = "admin") -> str:
    """A fresh key for this demo run (printed once, stored hashed like any other)."""
    result = subprocess.run([sys.executable, "-m", "portrisk.cli", "apikey", "create", "--role", role,
                             "--name", f"demo-{role}-{int(time.time())}"], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        return f"(could not create a demo key: {result.stderr.strip()})"
    return result.stdout.strip().splitlines()[-1].split()[-1]


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "portrisk.cli", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _await_ready(worker_port: int, api_port: int, children: list[subprocess.Popen[bytes]],
                 timeout_s: float = 300.0) -> None:
    """Wait until the worker has its partitions (state restored) and the API answers /healthz."""
    began = time.monotonic()
    print("waiting for the worker (group join, state restore) and the API", flush=True)
    while time.monotonic() - began < timeout_s:
        if any(c.poll() is not None for c in children):
            raise SystemExit("a demo service stopped; see the logs in PORTRISK_HOME/demo")
        if _worker_assigned(worker_port) and _http_ok(f"http://127.0.0.1:{api_port}/healthz"):
            print(f"worker and API ready in {time.monotonic() - began:.1f} s", flush=True)
            return
        time.sleep(0.2)
    raise SystemExit(f"the worker or the API was not ready after {timeout_s:.0f} s; see PORTRISK_HOME/demo")


def _worker_assigned(port: int) -> bool:
    """Whether the worker's metrics show input partitions assigned (set once their state is restored)."""
    from prometheus_client.parser import text_string_to_metric_families

    body = _http_text(f"http://127.0.0.1:{port}/metrics")
    if body is None:
        return False
    return any(sample.value > 0 for family in text_string_to_metric_families(body)
               if family.name == "portrisk_assigned_partitions" for sample in family.samples)


def _http_ok(url: str) -> bool:
    return _http_text(url) is not None


def _http_text(url: str) -> str | None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode() if response.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def _end_offsets(bootstrap: str, topic: str) -> dict[Any, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return dict(consumer.end_offsets(tps))
    finally:
        consumer.close()


def _await_decisions(bootstrap: str, topic: str, start: dict[Any, int], expected: set[str],
                     children: list[subprocess.Popen[bytes]], timeout_s: float = 600.0) -> list[dict[str, Any]]:
    """Decisions for the published events, read from ``risk-scores`` after ``start``."""
    import orjson
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    consumer.assign(list(start))
    for tp, offset in start.items():
        consumer.seek(tp, offset)
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    shown = 0.0
    tty = sys.stderr.isatty()
    try:
        while len(found) < len(expected) and time.monotonic() < deadline:
            if any(c.poll() is not None for c in children):
                raise SystemExit("a demo service stopped; see the logs in PORTRISK_HOME/demo")
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    doc = orjson.loads(r.value)
                    if doc["event_id"] in expected:
                        found[doc["event_id"]] = doc
            if time.monotonic() - shown >= (0.5 if tty else 5.0) or len(found) == len(expected):
                shown = time.monotonic()
                line = f"decisions {len(found):,}/{len(expected):,}"
                print("\r" + line if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
    finally:
        consumer.close()
    print(file=sys.stderr)
    return list(found.values())
