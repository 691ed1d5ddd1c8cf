"""The `portrisk` command: one entry point, one verb per job.

Settings are built once here from the environment and handed to the verb's handler. Errors that
portrisk raises on purpose become a one-line message and exit code 1 — never a stack trace.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from portrisk import __version__
from portrisk.errors import PortriskError

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _registrations() -> list[Register]:
    # Each module registers only argparse definitions; its handlers import what they need when run.
    from models.world.cli import register_cli as world_cli
    from portrisk.commands import demo, history, kafka, publish, run, state

    registrations: list[Register] = [kafka.register, world_cli, publish.register, run.register, state.register,
                                    history.register, demo.register]
    registrations.append(importlib.import_module("api.cli").register_cli)  # portrisk serve, portrisk apikey
    registrations.append(importlib.import_module("models.cli").register_cli)  # portrisk train, portrisk evaluate
    registrations.append(importlib.import_module("models.importer.cli").register_cli)  # portrisk import
    return registrations


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portrisk",
        description="Smuggling-risk scoring of containers arriving at the Dutch mainports. "
                    "Configuration comes from PORTRISK_* environment variables (see README).")
    parser.add_argument("--version", action="version", version=f"portrisk {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for register in _registrations():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from portrisk.logging_setup import configure_logging
        from portrisk.settings import load_settings

        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        code: int = args.func(args, settings)
        return code
    except PortriskError as exc:
        print(f"portrisk: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("portrisk: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
