"""When declarations arrive: per-port daily volumes with a weekly rhythm and a daily one.

Declarations are filed by people at forwarders and carriers, so filings crowd into office hours and
thin out at weekends; air cargo, handled around the clock, is flatter.
"""

from __future__ import annotations

import numpy as np

from models.world.config import WorldConfig

DAY_S = 86_400
# Monday..Sunday relative volume (mean 1).
WEEKLY = {
    "sea": np.array([1.08, 1.12, 1.1, 1.06, 1.02, 0.86, 0.76]),
    "air": np.array([1.0, 1.05, 1.05, 1.05, 1.1, 0.95, 0.8]),
}
# Share of filings in office hours (the rest spread evenly over the day), and the office-hours peak.
OFFICE_SHARE = {"sea": 0.65, "air": 0.45}
OFFICE_PEAK_H, OFFICE_SPREAD_H = 13.0, 3.5


def stochastic_round(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round to integers up or down at random so that the expectation is kept (capacity at small scale)."""
    floor = np.floor(values)
    return (floor + (rng.random(values.shape) < values - floor)).astype(np.int64)


def draw_arrivals(config: WorldConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Port index and filing time (seconds since ``config.start``) of every original declaration.

    Returned in time order. Daily counts are Poisson around the port's volume times ``scale`` times the
    weekday factor.
    """
    start_weekday = config.start.weekday()
    weekday = (start_weekday + np.arange(config.days)) % 7
    port_parts, time_parts = [], []
    for index, port in enumerate(config.ports):
        weekly = WEEKLY[port.mode] / WEEKLY[port.mode].mean()
        counts = rng.poisson(port.containers_per_day * config.scale * weekly[weekday])
        total = int(counts.sum())
        day = np.repeat(np.arange(config.days), counts)
        office = rng.random(total) < OFFICE_SHARE[port.mode]
        hours = np.where(office, rng.normal(OFFICE_PEAK_H, OFFICE_SPREAD_H, total), rng.uniform(0, 24, total))
        seconds = np.clip(hours, 0, 23.9999) * 3600
        port_parts.append(np.full(total, index, dtype=np.int64))
        time_parts.append(day * DAY_S + np.floor(seconds))
    port_idx = np.concatenate(port_parts)
    t = np.concatenate(time_parts)
    order = np.lexsort((port_idx, t))
    return port_idx[order], t[order]
