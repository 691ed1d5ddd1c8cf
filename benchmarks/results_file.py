"""Where a benchmark's figures go: ``--out``, by default ``benchmarks/results/<name>.json`` (ignored by git)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def add_out_argument(parser: argparse.ArgumentParser, name: str) -> None:
    """``--out PATH`` for the JSON document, defaulting to ``benchmarks/results/<name>.json``."""
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / f"{name}.json",
                        help="where the JSON goes (default: %(default)s)")


def save_results(document: Any, path: Path, **dumps: Any) -> None:
    """Write ``document`` as indented JSON to ``path`` (its folder created) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, **dumps) + "\n", encoding="utf-8")
    print(f"written to {path}")
