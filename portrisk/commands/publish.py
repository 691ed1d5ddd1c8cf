"""`portrisk publish`: send a simulated stream to the per-port manifest topics.

The composition root wires the two halves that may not import each other: the world generator
(:mod:`models.world`) makes or reads the events, the publisher (:mod:`stream.publisher`) sends them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from portrisk.errors import ConfigError
from portrisk.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "publish", help="send a simulated stream to the manifests.<port> topics, in event-time order",
        description="Generate a world in memory (--days/--seed/--scale, as `portrisk simulate`) or read one "
                    "(--from DIR) and send its manifest events in event-time order to manifests.<port>, keyed "
                    "by shipper id, as contract JSON; with --outcomes also its inspection outcomes to "
                    "inspection-outcomes. Creates missing topics first. Progress goes to stderr.")
    parser.add_argument("--days", type=int, default=None, help="days to simulate (not with --from)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--scale", type=float, default=1.0, help="volume scale (default 1 = real volumes)")
    parser.add_argument("--from", dest="from_dir", type=Path, default=None, metavar="DIR",
                        help="publish the world written to DIR by `portrisk simulate` instead")
    parser.add_argument("--rate", type=float, default=None,
                        help="records per second (default: as fast as the broker takes them)")
    parser.add_argument("--outcomes", action="store_true",
                        help="also send the world's inspection outcomes, merged by inspection time")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    import pandas as pd

    from models.world import generate_world, make_config, read_events, read_outcomes
    from portrisk.kafka_env import bootstrap_servers
    from stream.kafka_clients import make_producer
    from stream.publisher import Progress, event_messages, merged, outcome_messages, publish
    from stream.topics import TopicNames, create_topics, topic_specs

    if (args.days is None) == (args.from_dir is None):
        raise ConfigError("give either --days (simulate in memory) or --from DIR (a simulated world)")
    if args.rate is not None and args.rate <= 0:
        raise ConfigError(f"--rate must be positive, got {args.rate}")
    outcomes: pd.DataFrame | None = None
    if args.from_dir is not None:
        events = read_events(args.from_dir)
        if args.outcomes:
            outcomes = read_outcomes(args.from_dir)
    else:
        world = generate_world(make_config(ports=settings.ports, days=args.days, seed=args.seed, scale=args.scale))
        events, outcomes = world.events, (world.outcomes if args.outcomes else None)

    bootstrap = bootstrap_servers(settings)
    topics = TopicNames.from_settings(settings)
    create_topics(bootstrap, topic_specs(topics, settings.partitions))
    streams = [event_messages(events, topics)]
    if outcomes is not None:
        streams.append(outcome_messages(outcomes, topics))
    total = len(events) + (len(outcomes) if outcomes is not None else 0)
    producer = make_producer(bootstrap, client_id="portrisk-publisher")
    try:
        report = publish(merged(*streams), producer, rate=args.rate, progress=Progress(total))
    finally:
        producer.close()
    print(report.format())
    return 0
