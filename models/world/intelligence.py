"""Intelligence-led inspections: tip-offs that name a container, some of them wrongly.

Many large cocaine seizures in the ports start from information, not from a risk score: partner
agencies in the source countries, informants, intercepted communications. The simulation gives each
port a share of its daily scans (``intelligence_share``) to tips. A tip concerns a container that really
carries drugs — of any method, including a new one the rules do not know — and names that very
container with probability ``tip_precision``; otherwise it names another container of the same vessel
call or flight (the informant knew the ship, not the box). Tips are the one way the truth reaches the
selection directly, as it does in reality; they reach the data only as inspection results.
"""

from __future__ import annotations

import numpy as np

from models.world.manifests import Draft


def call_codes(draft: Draft) -> np.ndarray:
    """Per row, a code of its vessel call or flight: port, port of loading and ETA identify it."""
    key = (draft["eta_s"].astype(np.int64) * 128 + draft["origin"]) * 16 + draft["port"]
    return np.unique(key, return_inverse=True)[1].reshape(-1)


def tip_offs(rows: np.ndarray, illicit: np.ndarray, call: np.ndarray, k: int, precision: float,
             rng: np.random.Generator) -> np.ndarray:
    """Up to ``k`` distinct rows among ``rows`` (one port's declarations of a day) named by tips."""
    loaded = rows[illicit[rows]]
    if k <= 0 or loaded.size == 0:
        return np.empty(0, dtype=np.int64)
    about = rng.choice(loaded, size=min(k, loaded.size), replace=False)
    right = rng.random(about.size) < precision
    named = about.copy()
    for i in np.flatnonzero(~right):
        same_call = rows[(call[rows] == call[about[i]]) & (rows != about[i])]
        pool = same_call if same_call.size else rows
        named[i] = pool[rng.integers(0, pool.size)]
    return np.unique(named)
