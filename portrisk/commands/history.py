"""`portrisk history export`: the deployment's manifests and inspection outcomes into a history directory.

The composition root joins the topic reader (:mod:`stream.archive`) and the history writer
(:mod:`models.archive`), which may not import each other. Run daily (the manifest topics keep a week),
then ``portrisk train --world DIR`` learns from every result inspectors reported: the retrained loop the
backtest measures (README, "Backtest").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from portrisk.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    history = sub.add_parser(
        "history", help="archive the topics' manifests and inspection outcomes as a history for training",
        description="The deployment's own history.")
    verbs = history.add_subparsers(dest="history_verb", metavar="VERB", required=True)
    export = verbs.add_parser(
        "export", help="append what the manifest and outcome topics hold to a history directory",
        description="Read every manifests.<port> topic and the inspection-outcomes topic from the beginning to "
                    "their current end and append the events and outcomes to DIR (created if missing), each "
                    "kept once however often it is exported. Records that do not decode are counted and left "
                    "out (the worker sent them to the dead-letter topic). The manifest topics keep a week: "
                    "export at least that often. `portrisk train --world DIR` then trains on the result.")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="history directory to append to")
    export.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                        help="give up when the topics cannot be read to their end within this time")
    export.set_defaults(func=_export)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from models.archive import append_history
    from portrisk.kafka_env import bootstrap_servers
    from stream.archive import read_contents
    from stream.topics import TopicNames

    began = time.monotonic()
    contents = read_contents(bootstrap_servers(settings), TopicNames.from_settings(settings), settings.port_ids,
                             args.timeout)
    report = append_history(args.out, contents.events, contents.outcomes)
    rejected = ", ".join(f"{reason} {n:,}" for reason, n in sorted(contents.rejected.items())) or "none"
    print(f"read {sum(contents.records.values()):,} records ({len(contents.events):,} events, "
          f"{len(contents.outcomes):,} outcomes; undecodable, in the dead-letter topic: {rejected}) in "
          f"{time.monotonic() - began:.1f} s")
    span = f", {report.first_event} .. {report.last_event}" if report.first_event else ""
    print(f"{args.out}: {report.new_events:,} new events and {report.new_outcomes:,} new outcomes; now "
          f"{report.events:,} events and {report.outcomes:,} outcomes{span}")
    return 0
