"""`portrisk import`: argparse definitions only; the work is imported on use."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `import` verb to the portrisk command."""
    parser = sub.add_parser(
        "import", help="import an administration's labelled declarations (CSV or Parquet) as a history",
        description="Read historical declarations with their inspection results, in the administration's own "
                    "column names, through a mapping file (see config/mapping.example.toml), and write a "
                    "history directory that `portrisk train --world DIR` and `portrisk evaluate --world DIR` "
                    "take like a simulated world: events.parquet, outcomes.parquet, feature_config.json (the "
                    "party roles and extra attributes to profile) and import.json (the mapping and a data "
                    "summary). Bad rows are reported with their line numbers and skipped; above the limit "
                    "the import fails and writes nothing.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, help="CSV file (encoding and delimiter detected unless mapped)")
    source.add_argument("--parquet", type=Path, help="Parquet file")
    parser.add_argument("--mapping", type=Path, required=True, help="mapping file (TOML)")
    parser.add_argument("--out", type=Path, required=True, help="history directory to create (must not exist)")
    parser.add_argument("--max-bad-rows", type=int, default=None,
                        help="fail when more rows than this are bad (default: the mapping's, else 1000)")
    parser.add_argument("--quiet", action="store_true", help="no progress display on stderr")
    parser.set_defaults(func=_import)


def _import(args: argparse.Namespace, settings: Any) -> int:
    import sys

    from models.importer.mapping import load_mapping
    from models.importer.progress import Progress
    from models.importer.run import import_history

    mapping = load_mapping(args.mapping)
    source = args.csv if args.csv is not None else args.parquet
    kind: Literal["csv", "parquet"] = "csv" if args.csv is not None else "parquet"
    result = import_history(source, mapping, args.out, kind=kind, max_bad_rows=args.max_bad_rows,
                            progress=None if args.quiet else Progress(sys.stderr))
    s = result.summary
    bad = s["bad_rows"]
    print(f"imported {s['rows_imported']:,} of {s['rows_read']:,} rows from {source} in {result.seconds:.1f} s "
          f"({s['rows_read'] / max(result.seconds, 1e-9):,.0f} rows/s) into {result.out_dir}")
    print(f"{s['first_event']} .. {s['last_event']}; {s['shippers']:,} shippers; {s['inspected']:,} inspected, "
          f"results {s['results']}")
    if bad["count"]:
        print(f"{bad['count']} bad row(s) skipped (limit {bad['limit']}), by field {bad['by_field']}:")
        for row in bad["examples"][:10]:
            print(f"  line {row['line']}: {row['reason']}")
    sparse = {k: v for k, v in s["filled_share"].items() if v < 0.5}
    if sparse:
        print("mostly empty (their features are mostly missing): "
              + ", ".join(f"{k} {v:.0%}" for k, v in sparse.items()))
    return 0
