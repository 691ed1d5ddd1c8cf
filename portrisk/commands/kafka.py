"""`portrisk broker ...` and `portrisk topics ...`: the local Kafka and the topic set."""

from __future__ import annotations

import argparse
import time

from portrisk.kafka_env import bootstrap_servers, local_broker
from portrisk.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    broker = sub.add_parser(
        "broker", help="run a local single-node Apache Kafka (KRaft) for development, tests and the demo",
        description="Manage the local Apache Kafka broker. Its jars are resolved by Maven into the cache "
                    "directory once; data and logs live under PORTRISK_HOME/broker.")
    verbs = broker.add_subparsers(dest="broker_verb", required=True, metavar="VERB")
    verbs.add_parser("fetch", help="download the broker jars with Maven into the cache (done by start too)"
                     ).set_defaults(func=_broker_fetch)
    start = verbs.add_parser("start", help="start the broker (idempotent) and print its bootstrap address")
    start.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    start.set_defaults(func=_broker_start)
    verbs.add_parser("stop", help="stop the broker started here (harmless when none runs)").set_defaults(
        func=_broker_stop)
    verbs.add_parser("status", help="say whether the broker is up, its address and Kafka version").set_defaults(
        func=_broker_status)

    topics = sub.add_parser(
        "topics", help="create or list the portrisk topic set",
        description="The topic set: manifests.<port> per mainport, manifests.dlq, risk-scores, "
                    "scan-recommendations.<port>, inspection-outcomes, audit-log and the shipper-state "
                    "changelog. Uses PORTRISK_KAFKA_BOOTSTRAP, or the local broker.")
    tverbs = topics.add_subparsers(dest="topics_verb", required=True, metavar="VERB")
    tverbs.add_parser("create", help="create missing topics (idempotent)").set_defaults(func=_topics_create)
    tverbs.add_parser("list", help="list topics with their partition counts").set_defaults(func=_topics_list)


def _broker_fetch(args: argparse.Namespace, settings: Settings) -> int:
    began = time.monotonic()
    lib = local_broker(settings).ensure_jars()
    print(f"Apache Kafka {settings.kafka_version} jars in {lib} ({time.monotonic() - began:.1f} s)")
    return 0


def _broker_start(args: argparse.Namespace, settings: Settings) -> int:
    broker = local_broker(settings)
    began = time.monotonic()
    state = broker.start(timeout_s=args.timeout)
    version = broker.logged_version() or state.version
    print(f"Apache Kafka {version} up at {state.bootstrap} (pid {state.pid}, "
          f"{time.monotonic() - began:.1f} s; log {broker.log_file})")
    print(state.bootstrap)
    return 0


def _broker_stop(args: argparse.Namespace, settings: Settings) -> int:
    stopped = local_broker(settings).stop()
    print("broker stopped" if stopped else "no local broker was running")
    return 0


def _broker_status(args: argparse.Namespace, settings: Settings) -> int:
    status = local_broker(settings).status()
    if status.up:
        print(f"up: {status.bootstrap} (Apache Kafka {status.version}, pid {status.pid})")
        return 0
    print(f"down: {status.detail}")
    return 3


def _topics_create(args: argparse.Namespace, settings: Settings) -> int:
    from stream.topics import TopicNames, create_topics, topic_specs

    bootstrap = bootstrap_servers(settings)
    report = create_topics(bootstrap, topic_specs(TopicNames.from_settings(settings), settings.partitions))
    for name in report.created:
        print(f"created  {name}")
    for name in report.existing:
        print(f"exists   {name}")
    return 0


def _topics_list(args: argparse.Namespace, settings: Settings) -> int:
    from stream.topics import list_topics

    for name, partitions in sorted(list_topics(bootstrap_servers(settings)).items()):
        print(f"{name}\t{partitions}")
    return 0
