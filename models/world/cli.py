"""`portrisk simulate`: generate a synthetic world and write it to a directory."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from features.ports import PortConfig
from models.world.config import make_config
from models.world.generator import generate_world
from models.world.summary import WorldSummary
from models.world.writer import write_world
from portrisk.errors import ConfigError


def simulate(days: int, seed: int, scale: float, out_dir: Path | str, base_rate: float = 0.004,
             ports: tuple[PortConfig, ...] | None = None, only_ports: tuple[str, ...] | None = None,
             **options: Any) -> WorldSummary:
    """Generate a world and write it to ``out_dir``; returns its summary.

    ``ports`` is the mainport configuration (default: the built-in five), ``only_ports`` restricts the
    world to some of them; ``options`` are further :class:`models.world.config.WorldConfig` fields
    (``start``, ``random_share``, ``amendment_rate``, ``drift_day``, ...). A bad value raises ConfigError.
    """
    config = make_config(ports=ports, only_ports=only_ports, days=days, seed=seed, scale=scale,
                         base_rate=base_rate, **options)
    world = generate_world(config)
    write_world(world, Path(out_dir))
    return world.summary


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from exc


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `simulate` verb to the portrisk command."""
    parser = sub.add_parser(
        "simulate", help="generate a synthetic world (events, inspection outcomes, hidden truth)",
        description="Simulate manifest declarations arriving at the configured mainports, the legacy "
                    "selection of containers for inspection and its outcomes, and the hidden truth. "
                    "Writes DIR/events.parquet, DIR/outcomes.parquet, DIR/truth/truth.parquet and "
                    "DIR/world.json. Same seed and options, same files.")
    parser.add_argument("--days", type=int, required=True, help="length of the period in days")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiplies volumes, parties and scan capacity (default 1 = real volumes)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the world into")
    parser.add_argument("--base-rate", type=float, default=0.004,
                        help="share of containers carrying drugs (default 0.004)")
    parser.add_argument("--ports", default=None,
                        help="comma-separated port ids to simulate (default: every configured mainport)")
    parser.add_argument("--start", type=_date, default=None, help="first day, YYYY-MM-DD (default 2024-01-01)")
    parser.add_argument("--random-share", type=float, default=None, help="share of scans drawn at random")
    parser.add_argument("--drift-day", type=int, default=None, help="day the new route appears (default days/2)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace, settings: Any) -> int:
    options = {k: v for k, v in (("start", args.start), ("random_share", args.random_share),
                                 ("drift_day", args.drift_day)) if v is not None}
    only = tuple(p.strip() for p in args.ports.split(",") if p.strip()) if args.ports else None
    if args.ports is not None and not only:
        raise ConfigError("--ports needs at least one port id")
    began = time.perf_counter()
    summary = simulate(args.days, args.seed, args.scale, args.out, args.base_rate, ports=settings.ports,
                       only_ports=only, **options)
    print(summary.format())
    print(f"written to {args.out} in {time.perf_counter() - began:.1f} s")
    return 0
