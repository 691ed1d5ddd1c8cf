"""Importing an administration's own history: labelled declarations in its own columns → a history directory.

    mapping    the TOML mapping (columns → v1 contract fields, parties, extras, labels), validated
    sections   the [source], [parties], [extras] and [labels] sections, checked key by key
    sniff      encoding, delimiter and date-format detection
    reader     chunked CSV/Parquet reading with line numbers; rows with the wrong field count are bad rows
    parse      vectorised parsers per kind of column (ids, codes, HS codes, numbers, yes/no, times, lists)
    convert    chunk → events (contract columns, extras) and outcomes (labels), bad rows with reasons
    seen       duplicate declaration ids in bounded memory
    summary    the data summary written to import.json (and copied to the model card)
    writer     the history directory: events/outcomes Parquet, feature_config.json, import.json
    progress   the throttled progress line on stderr
    run        import_history(): the whole job
    world_csv  a simulated world as an administration-style CSV, with its mapping (round-trip tests)
    cli        `portrisk import`

The result has the layout of a simulated world without ``truth/``, so ``portrisk train`` and
``portrisk evaluate`` take it unchanged: same features, same training, same evaluation code.
"""

from models.importer.mapping import Mapping, load_mapping, parse_mapping
from models.importer.run import ImportResult, import_history

__all__ = ["ImportResult", "Mapping", "import_history", "load_mapping", "parse_mapping"]
