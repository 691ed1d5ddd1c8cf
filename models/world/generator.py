"""The synthetic world: events, inspection outcomes and hidden truth, as a pure function of its config.

Every stage draws from its own child of the seed, so changing one stage's draws leaves the others'
unchanged, and the same config yields the same frames (and the same Parquet bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import MANIFEST_FIELDS, OUTCOME_FIELDS
from features.identifiers import zero_pad
from models.world.amendments import draw_amendments
from models.world.catalogue import COMMODITIES, ORIGINS
from models.world.config import WorldConfig
from models.world.manifests import Draft, draft_manifests
from models.world.parties import Parties, make_parties
from models.world.selection import RNG_STREAMS, select_and_inspect
from models.world.summary import WorldSummary, summarise
from models.world.typologies import draw_truth

TRUTH_COLUMNS = ("event_id", "illicit", "typology", "p_illicit", "p_declared", "irregular")


@dataclass(frozen=True)
class World:
    """A simulated period: what the stream sees (events, outcomes) and what only evaluation may see."""

    config: WorldConfig
    events: pd.DataFrame  # exactly the ManifestEvent fields, in event-time order
    outcomes: pd.DataFrame  # exactly the InspectionOutcome fields, in inspection-time order
    truth: pd.DataFrame  # TRUTH_COLUMNS, one row per event (amendments share their container's truth)
    summary: WorldSummary


def _timestamps(config: WorldConfig, seconds: np.ndarray) -> pd.Series:
    start = np.datetime64(config.start.replace(tzinfo=None), "ms")
    return pd.Series(start + (seconds * 1000).astype("timedelta64[ms]")).dt.tz_localize("UTC")


def _strings(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype=object)


def _present_where(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` where ``mask``, None elsewhere (an object array: missing, not an empty string)."""
    out = np.full(mask.size, None, dtype=object)
    out[mask] = values[mask]
    return out


def _events(config: WorldConfig, parties: Parties, draft: Draft,
            amend: Draft) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The events frame; per event the container (original row) it declares; per original its position."""
    n, m = draft["t"].size, amend["t"].size
    src = np.r_[np.arange(n), amend["original"]]
    is_amendment = np.r_[np.zeros(n, dtype=bool), np.ones(m, dtype=bool)]
    t = np.r_[draft["t"], amend["t"]]
    order = np.lexsort((is_amendment, t))
    position = np.empty(n + m, dtype=np.int64)
    position[order] = np.arange(n + m)
    event_id = np.char.add(f"w{config.seed}-", zero_pad(np.arange(n + m), 9))

    def col(name: str) -> np.ndarray:
        return draft[name][src][order]

    def changed(name: str) -> np.ndarray:
        return np.r_[draft[name], amend[name]][order]

    port, origin, commodity = col("port"), col("origin"), col("commodity")
    consignee, declarant = changed("consignee"), col("declarant")
    declarant_ids = _present_where(declarant >= 0, parties.declarant_id[np.maximum(declarant, 0)])
    notify = col("notify")
    notify_ids = np.where(notify == 0, parties.consignee_id[consignee], _present_where(notify == 1, declarant_ids))
    amends = _present_where(is_amendment, event_id[position[src]])[order]
    frame = pd.DataFrame({
        "schema_version": np.ones(n + m, dtype=np.int64),
        "event_id": event_id,
        "event_time": _timestamps(config, t[order]),
        "mainport": np.array([p.id for p in config.ports])[port],
        "transport_mode": np.where(col("is_air"), "air", "sea"),
        "container_id": col("container_id"),
        "container_type": col("container_type"),
        "bill_of_lading": col("bill_of_lading"),
        "shipper_id": parties.shipper_id[col("shipper")],
        "consignee_id": parties.consignee_id[consignee],
        "notify_party_id": _strings(notify_ids),
        "declarant_id": _strings(declarant_ids),
        "hs_code": np.array([c.hs_code for c in COMMODITIES])[commodity],
        "goods_description": np.array([c.description for c in COMMODITIES])[commodity],
        "gross_weight_kg": changed("weight"),
        "declared_value_eur": changed("value"),
        "port_of_loading": np.array([o.locode for o in ORIGINS])[origin],
        "transshipment_ports": _strings(draft["route_table"][col("route_id")]),
        "vessel_imo": _strings(_present_where(~col("is_air"), col("vessel_imo"))),
        "voyage": col("voyage"),
        "eta": _timestamps(config, col("eta_s")),
        "is_amendment": is_amendment[order],
        "amends_event_id": _strings(amends),
        "extras": pd.Series([{} for _ in range(n + m)], dtype=object),  # one dict per row: safe to fill in
    })
    if tuple(frame.columns) != MANIFEST_FIELDS:  # a bug here must crash: the frame is the contract
        raise RuntimeError(f"events columns {list(frame.columns)} differ from {MANIFEST_FIELDS}")
    return frame, src[order], position[:n]


def generate_world(config: WorldConfig) -> World:
    """Simulate ``config.days`` days at the configured mainports (see :mod:`models.world`)."""
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(4 + RNG_STREAMS)]
    parties = make_parties(config, rngs[0])
    draft = draft_manifests(config, parties, rngs[1])
    legit_consignees = parties.consignee_weight * ~parties.consignee_front
    amend = draw_amendments(draft, config.amendment_rate, legit_consignees, rngs[2])
    truth = draw_truth(draft, config, rngs[3])
    inspections = select_and_inspect(draft, truth, config, rngs[4:])
    found = inspections.found
    events, container_of_event, position = _events(config, parties, draft, amend)

    # Truth per event: amendments inherit their container's.
    truth_frame = pd.DataFrame({
        "event_id": events["event_id"],
        "illicit": truth["illicit"][container_of_event],
        "typology": _strings(truth["typology"][container_of_event]),
        "p_illicit": truth["p_illicit"][container_of_event],
        "p_declared": truth["p_declared"][container_of_event],
        "irregular": truth["irregular"][container_of_event],
    })

    # An outcome names the original declaration: selection happened when it was filed.
    rows = found["row"]
    order = np.lexsort((rows, found["inspected_s"]))
    outcomes = pd.DataFrame({
        "schema_version": np.ones(rows.size, dtype=np.int64),
        "outcome_id": np.char.add(f"w{config.seed}-o", zero_pad(np.arange(rows.size), 8)),
        "event_id": events["event_id"].to_numpy()[position[rows[order]]],
        "container_id": draft["container_id"][rows[order]],
        "shipper_id": parties.shipper_id[draft["shipper"][rows[order]]],
        "mainport": np.array([p.id for p in config.ports])[draft["port"][rows[order]]],
        "inspected_at": _timestamps(config, found["inspected_s"][order]),
        "result": found["result"][order],
        "selection": found["selection"][order],
        "inspector_id": found["inspector_id"][order],
        "notes": _strings(np.full(rows.size, None, dtype=object)),
    })
    if tuple(outcomes.columns) != OUTCOME_FIELDS:
        raise RuntimeError(f"outcomes columns {list(outcomes.columns)} differ from {OUTCOME_FIELDS}")
    summary = summarise(config, draft, truth, inspections, events)
    return World(config=config, events=events, outcomes=outcomes, truth=truth_frame, summary=summary)
