"""Manifest amendments: a second declaration for the same container, filed after the first.

Most amendments are honest corrections made days before arrival (a re-weighed load, a corrected value).
Front companies amend far more often and late, just before arrival — typically switching the consignee
once they know the container was not selected.
"""

from __future__ import annotations

import numpy as np

from models.world.manifests import MAX_WEIGHT_KG, Draft

LEGIT_LATE_SHARE = 0.15
FRONT_RATE, FRONT_LATE_SHARE = 0.3, 0.7
MIN_GAP_S = 300.0


def draw_amendments(draft: Draft, amendment_rate: float, consignee_weight: np.ndarray,
                    rng: np.random.Generator) -> Draft:
    """Amendment rows (same columns as the draft's per-row ones) plus ``original``: the row amended.

    Also sets ``late_amendment`` (hidden, per original row) in ``draft``.
    """
    n = draft["t"].size
    front, new = draft["front"], draft["new_shipper"]
    rate = np.where(front, FRONT_RATE, amendment_rate * np.where(new, 1.5, 1.0))
    original = np.flatnonzero(rng.random(n) < rate)
    late = rng.random(original.size) < np.where(front[original], FRONT_LATE_SHARE, LEGIT_LATE_SHARE)
    late_flag = np.zeros(n, dtype=bool)
    late_flag[original[late]] = True
    draft["late_amendment"] = late_flag

    rows = {k: v[original] for k, v in draft.items() if isinstance(v, np.ndarray) and v.shape[:1] == (n,)}
    t, eta = rows["t"], rows["eta_s"]
    lead = eta - t
    when = np.where(late, eta - rng.uniform(0.05, 0.25, original.size) * lead,
                    t + rng.uniform(0.05, 0.6, original.size) * lead)
    rows["t"] = np.floor(np.maximum(when, t + MIN_GAP_S))
    k = original.size
    reweigh = rng.random(k) < 0.5
    heaviest = np.where(rows["is_air"], MAX_WEIGHT_KG["air"], MAX_WEIGHT_KG["sea"])
    reweighed = np.minimum(rows["weight"] * rng.uniform(0.97, 1.03, k), heaviest).round(1)
    rows["weight"] = np.where(reweigh, reweighed, rows["weight"])
    revalue = rng.random(k) < 0.3
    rows["value"] = np.where(revalue, (rows["value"] * rng.uniform(0.9, 1.1, k)).round(2), rows["value"])
    switch = rng.random(k) < np.where(front[original] & late, 0.5, 0.05)
    other = rng.choice(consignee_weight.size, size=k, p=consignee_weight / consignee_weight.sum())
    rows["consignee"] = np.where(switch, other, rows["consignee"])
    rows["original"] = original
    return rows
