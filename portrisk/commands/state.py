"""`portrisk state seed`: shipper histories from a history directory into the workers' state changelog.

The composition root joins what may not import each other: the history reader (:mod:`models.dataset`),
the model's feature pipeline and the changelog writer (:mod:`stream.backfill`, which explains why).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

from portrisk.errors import ConfigError
from portrisk.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    state = sub.add_parser(
        "state", help="seed the workers' shipper histories from a history (a new deployment starts warm)",
        description="Shipper state of the streaming workers.")
    verbs = state.add_subparsers(dest="state_verb", metavar="VERB", required=True)
    seed = verbs.add_parser(
        "seed", help="replay a history and write each shipper's state to the state changelog",
        description="Replay a history directory (`portrisk import` or `portrisk simulate` output) through the "
                    "model's feature pipeline, outcomes folded in when inspected, and write every shipper's "
                    "history to the state changelog on its partition. Workers restore it when they are "
                    "assigned their partitions. Run it before the first worker starts: a changelog that "
                    "already holds state is refused unless --replace.")
    seed.add_argument("--history", type=Path, required=True, metavar="DIR", help="history directory")
    seed.add_argument("--until", type=datetime.fromisoformat, default=None, metavar="TIME",
                      help="only events filed and outcomes inspected before this ISO 8601 time (with zone)")
    seed.add_argument("--replace", action="store_true",
                      help="write over a changelog that already holds state (workers stopped; histories lost)")
    seed.set_defaults(func=_seed)


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from features.pipeline import FeaturePipeline
    from models.dataset import load_history
    from portrisk.kafka_env import bootstrap_servers
    from stream.backfill import check_seedable, history_states, seed_changelog
    from stream.topics import TopicNames, create_topics, topic_specs

    if args.until is not None and args.until.tzinfo is None:
        raise ConfigError(f"--until {args.until.isoformat()} has no time zone: add one, e.g. +00:00")
    history = load_history(args.history)
    events, outcomes = history.events, history.outcomes
    if args.until is not None:
        events = events[events["event_time"] < args.until]
        outcomes = outcomes[outcomes["inspected_at"] < args.until]
        if events.empty:
            raise ConfigError(f"no event of {args.history} was filed before {args.until.isoformat()}")
    if events.empty:
        raise ConfigError(f"{args.history} holds no events to seed from")
    bootstrap = bootstrap_servers(settings)
    topics = TopicNames.from_settings(settings)
    create_topics(bootstrap, topic_specs(topics, settings.partitions))
    check_seedable(bootstrap, topics.changelog, args.replace)  # now, not after the replay (checked again then)
    began = time.monotonic()
    pipeline = FeaturePipeline.from_model_dir(settings.model_dir)

    def progress(done: int) -> None:
        print(f"replayed {done:,} / {len(events):,} events", file=sys.stderr, flush=True)

    states = history_states(pipeline, events, outcomes, progress)
    written = seed_changelog(bootstrap, topics.changelog, states, replace=args.replace)
    first, last = events["event_time"].iloc[0], events["event_time"].iloc[-1]
    print(f"seeded {written:,} shipper histories from {len(events):,} events and {len(outcomes):,} outcomes "
          f"({first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC) into {topics.changelog} in "
          f"{time.monotonic() - began:.1f} s; workers restore them when assigned their partitions")
    return 0
