"""A small seeded history of valid contract events and outcomes, for the feature and training tests.

Independent of the synthetic world generator on purpose: these tests pin the feature code's semantics,
so their inputs must not move when the world's parameters are tuned.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from features.config import FeatureConfig
from features.contract import InspectionOutcome, ManifestEvent
from features.identifiers import container_ids_array, imo_number
from features.tables import ReferenceTables
from models.tables import build_tables

START = datetime(2024, 3, 1, tzinfo=UTC)
ORIGINS = ("ECGYE", "COCTG", "CNSHA", "USNYC", "BRSSZ", "INNSA")
HS = ("080390", "080430", "847130", "950300", "090111", "620342")
HUBS = ((), ("PAMIT",), ("ESALG",), ("PAMIT", "ESALG"), ("SGSIN",))
PORTS = ("rotterdam", "vlissingen")


def make_history(
    n: int = 400, seed: int = 0, shippers: int = 25, days: float = 20.0, extras: bool = False
) -> tuple[list[ManifestEvent], list[InspectionOutcome]]:
    """``n`` manifest events in event-time order (some amendments) and outcomes in inspection order."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.uniform(0, days * 86_400, n)).round()
    container_ids = container_ids_array(np.full(n, "MSKU"), rng.choice(1_000_000, n, replace=False))
    events: list[ManifestEvent] = []
    outcomes: list[InspectionOutcome] = []
    for i, s in enumerate(seconds):
        shipper = int(rng.integers(shippers))
        t = START + timedelta(seconds=float(s))
        reefer = rng.random() < 0.4
        amend_of = events[int(rng.integers(len(events)))] if events and rng.random() < 0.05 else None
        fields = {
            "schema_version": 1, "event_id": f"e{i:05d}", "event_time": t, "mainport": PORTS[shipper % 2],
            "transport_mode": "sea", "container_id": str(container_ids[i]),
            "container_type": "45R1" if reefer else "42G1", "bill_of_lading": f"MAEU{i:09d}",
            "shipper_id": f"EC{shipper:09d}", "consignee_id": f"NL{int(rng.integers(15)):09d}",
            "notify_party_id": f"NL{int(rng.integers(30)):09d}" if rng.random() < 0.5 else None,
            "declarant_id": f"NL9{int(rng.integers(5)):08d}" if rng.random() < 0.8 else None,
            "hs_code": HS[int(rng.integers(len(HS)))], "goods_description": "goods",
            "gross_weight_kg": float(rng.uniform(3_000, 26_000)), "declared_value_eur": float(rng.uniform(0, 9e4)),
            "port_of_loading": ORIGINS[(shipper + int(rng.integers(2))) % len(ORIGINS)],
            "transshipment_ports": HUBS[int(rng.integers(len(HUBS)))], "vessel_imo": imo_number(900_001),
            "voyage": "001N", "eta": t + timedelta(hours=float(rng.uniform(24, 400))),
            "is_amendment": False, "amends_event_id": None,
            "extras": {"seal_type": str(rng.choice(["bolt", "cable"])), "temp_c": float(rng.normal(5, 2))}
            if extras else {},
        }
        if amend_of is not None:
            fields.update(is_amendment=True, amends_event_id=amend_of.event_id, shipper_id=amend_of.shipper_id)
        event = ManifestEvent.model_validate(fields)
        events.append(event)
        if rng.random() < 0.15:
            result = str(rng.choice(["no_finding", "drugs", "other_irregularity"], p=[0.7, 0.2, 0.1]))
            outcomes.append(InspectionOutcome(
                schema_version=1, outcome_id=f"o{i:05d}", event_id=event.event_id, container_id=event.container_id,
                shipper_id=event.shipper_id, mainport=event.mainport, result=result,  # type: ignore[arg-type]
                inspected_at=event.eta + timedelta(hours=float(rng.uniform(1, 30))), selection="legacy",
            ))
    outcomes.sort(key=lambda o: o.inspected_at)
    return events, outcomes


def frame(items: list[ManifestEvent] | list[InspectionOutcome]) -> pd.DataFrame:
    """A DataFrame of contract models, one column per field (as the world's Parquet files hold them)."""
    return pd.DataFrame([item.model_dump() for item in items])


def tables_for(
    events: list[ManifestEvent], outcomes: list[InspectionOutcome], config: FeatureConfig | None = None,
    days: float = 10.0,
) -> ReferenceTables:
    """Reference tables from the first ``days`` of the history, round-tripped through their bytes."""
    tables = build_tables(frame(events), frame(outcomes), config or FeatureConfig(), START,
                          START + timedelta(days=days))
    return ReferenceTables.from_bytes(tables.to_bytes())
