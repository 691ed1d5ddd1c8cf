"""An administration-style export of a simulated world, for the import tests.

The columns of ``config/mapping.example.toml``: Dutch names, semicolons, Latin-1 text, dd-mm-yyyy dates
in Dutch local time, decimal commas with thousands dots, HS codes with dots or a lost leading zero,
declaration numbers with leading zeros, yes/no as J/N; two extra attributes (customs office, number of
packages) and a forwarder party that the contract does not have.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.world.writer import read_events, read_outcomes

EXAMPLE_MAPPING = Path(__file__).resolve().parents[1] / "config" / "mapping.example.toml"
PORT_NAMES = {"rotterdam": "Rotterdam", "amsterdam": "Amsterdam", "vlissingen": "North Sea Port",
              "moerdijk": "Moerdijk", "schiphol": "Schiphol"}
LOCAL = "Europe/Amsterdam"


def office(port: str, declarant: str | None) -> str:
    """The customs office extra of a declaration (derived, deterministic)."""
    return f"{port[:3].upper()}-{zlib.crc32((declarant or '-').encode()) % 3}"


def packages(weight: float) -> float:
    """The number-of-packages extra of a declaration (derived, deterministic)."""
    return float(int(weight // 400) + 1)


def _dutch_number(values: pd.Series, decimals: int) -> list[str]:
    return [f"{v:,.{decimals}f}".replace(",", "_").replace(".", ",").replace("_", ".") for v in values]


def _hs_variants(codes: pd.Series) -> list[str]:
    """Dotted, lost leading zero, or an 8-digit CN code: all mean the same HS6."""
    out = []
    for i, code in enumerate(codes.tolist()):
        if i % 3 == 0:
            out.append(f"{code[:4]}.{code[4:]}")
        elif i % 3 == 1:
            out.append(code.lstrip("0") if code.startswith("0") else code)
        else:
            out.append(code + "00")
    return out


def original_events(world_dir: Path) -> pd.DataFrame:
    """The world's declarations without their amendments: the export holds each declaration once."""
    events = read_events(world_dir)
    return events[~events["is_amendment"].to_numpy(dtype=bool)].reset_index(drop=True)


def admin_frame(world_dir: Path) -> pd.DataFrame:
    """The world's declarations with their labels in the administration's columns (all text)."""
    events = original_events(world_dir)
    outcomes = read_outcomes(world_dir).drop_duplicates("event_id").set_index("event_id")
    labels = outcomes.reindex(events["event_id"].to_numpy())
    inspected = labels["result"].notna().to_numpy()
    local_time = events["event_time"].dt.tz_convert(LOCAL)
    inspected_day = labels["inspected_at"].dt.tz_convert(LOCAL).dt.strftime("%d-%m-%Y").fillna("")
    description = events["goods_description"].astype(str)
    description = np.where(np.arange(len(events)) % 10 == 0, description.str.replace("e", "é", n=1), description)
    notify = events["notify_party_id"].astype(object)
    result = labels["result"].to_numpy(dtype=object)
    return pd.DataFrame({
        "AANGIFTENUMMER": [f"{i:012d}" for i in range(len(events))],
        "DATUM_AANGIFTE": local_time.dt.strftime("%d-%m-%Y %H:%M:%S").to_numpy(),
        "HAVEN": events["mainport"].map(PORT_NAMES).to_numpy(),
        "VERVOERSWIJZE": np.where(events["transport_mode"] == "sea", "Zee", "Lucht"),
        "CONTAINERNUMMER": events["container_id"].to_numpy(),
        "CONTAINERTYPE": events["container_type"].to_numpy(),
        "GOEDERENCODE": _hs_variants(events["hs_code"]),
        "OMSCHRIJVING": description,
        "BRUTOMASSA": _dutch_number(events["gross_weight_kg"], 1),
        "STATISTISCHE_WAARDE": _dutch_number(events["declared_value_eur"], 2),
        "LAADHAVEN": events["port_of_loading"].to_numpy(),
        "OVERSLAGHAVENS": ["|".join(hubs) for hubs in events["transshipment_ports"]],
        "AFZENDER": events["shipper_id"].to_numpy(),
        "ONTVANGER": events["consignee_id"].to_numpy(),
        "AANGEVER": events["declarant_id"].astype(object).fillna("").to_numpy(),
        "EXPEDITEUR": notify.fillna("").to_numpy(),
        "DOUANEKANTOOR": [office(p, d) for p, d in zip(events["mainport"], events["declarant_id"], strict=True)],
        "AANTAL_COLLI": [str(int(packages(w))) for w in events["gross_weight_kg"]],
        "GECONTROLEERD": np.where(inspected, "J", "N"),
        "BEVINDING": np.where(inspected, np.where(result == "no_finding", "N", "J"), ""),
        "ERNST": np.select([result == "drugs", result == "other_irregularity"], ["hoog", "laag"], ""),
        "CONTROLEDATUM": np.where(inspected, inspected_day.to_numpy(), ""),
        "SELECTIE": np.select([labels["selection"].to_numpy() == s for s in ("random", "legacy", "tip")],
                              ["steekproef", "profiel", "melding"], ""),
    })


def write_admin_csv(frame: pd.DataFrame, path: Path, extra_lines: dict[int, str] | None = None) -> list[str]:
    """Write ``frame`` as the administration's CSV (';', Latin-1); returns the lines written.

    ``extra_lines`` inserts raw lines (e.g. broken ones) before the data row of that position, so a test
    can put a bad line at a known line number.
    """
    text = frame.to_csv(sep=";", index=False, lineterminator="\n")
    lines = text.rstrip("\n").split("\n")
    for position in sorted(extra_lines or {}, reverse=True):
        lines.insert(1 + position, (extra_lines or {})[position])
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return lines


def line_of(lines: list[str], declaration: str) -> int:
    """The 1-based line number of the row holding a declaration number."""
    return next(i + 1 for i, line in enumerate(lines) if line.startswith(declaration + ";"))


def live_extras(event: dict[str, Any]) -> dict[str, Any]:
    """The extras a live manifest event carries for the example mapping (same derivations as the export)."""
    extras: dict[str, Any] = {"douanekantoor": office(event["mainport"], event.get("declarant_id")),
                              "aantal_colli": packages(event["gross_weight_kg"])}
    if event.get("notify_party_id"):
        extras["forwarder"] = event["notify_party_id"]
    return extras


def publish_events(bootstrap: str, topics: Any, partitions: int, payloads: list[bytes]) -> None:
    """Create the topic set, then send each payload to its port's topic keyed by shipper id (acks=all).

    Record timestamps increase one millisecond per event: the worker orders records across topics by
    timestamp, so the stream sees the events in the order given.
    """
    import time

    import orjson

    from stream.kafka_clients import make_producer
    from stream.topics import create_topics, topic_specs

    create_topics(bootstrap, topic_specs(topics, partitions))
    producer = make_producer(bootstrap)
    first_ms = int(time.time() * 1000) - len(payloads)
    futures = []
    for i, payload in enumerate(payloads):
        doc = orjson.loads(payload)
        futures.append(producer.send(topics.manifests(doc["mainport"]), key=doc["shipper_id"].encode(),
                                     value=payload, timestamp_ms=first_ms + i))
    producer.flush()
    for future in futures:
        future.get(timeout=30)
    producer.close()
