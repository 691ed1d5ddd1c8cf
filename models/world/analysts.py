"""How the analysts' rules adapt in the simulated past: new routings, seizures and watchlists.

The static weighted rules (:func:`models.world.legacy.rule_score`) know a country list and a few
commodities. Real targeting teams do not stand still: they read route statistics, study every seizure
and keep watchlists (DOMAIN.md: analysts write the selectivity criteria; rules are tested on past data
and learn from reported outcomes). Three ways of adapting are modelled, each using only what the
analysts could know at the start of a day — declarations filed before it and findings of inspections
carried out before it, never the truth:

- route watch: a routing (port of loading and transshipment hubs, feeders aside) that a lane from
  South America or the Caribbean did not use in the analysts' baseline weeks and that then carries a
  steady flow (``ROUTE_WATCH_MIN`` containers within a week, at full scale) is noticed; from
  ``ROUTE_RULE_DELAY_DAYS`` later (analysis, approval, rollout) the route becomes a lane of its own with
  an expected selection rate (ASYCUDA's red lane, DOMAIN.md): ``ROUTE_SAMPLE_RATE`` of its containers
  are drawn at random for a scan. Nobody knows yet what the new route carries or how it is hidden, so
  the analysts sample it rather than score it — and the samples' findings feed the rules below. This is
  how a new route or method gets labels without any seizure on it yet.
- modus-operandi rules: a drug finding lists its pattern — port of loading, routing and HS chapter —
  for ``MO_DAYS`` with ``MO_POINTS``; every further finding on a listed pattern adds ``MO_POINTS`` more,
  up to ``MO_MAX_LEVEL`` times (one seizure is a lead, a series is a method).
- watchlists: the shipper and the consignee of a drug finding are listed for ``WATCH_DAYS`` with
  ``WATCH_POINTS`` (their next containers are checked, whether they were accomplices or victims).

Analysts test a rule on past data before it goes live (DOMAIN.md): a seizure-led rule is written only
when what it would hit is affordable — a pattern filed at most ``MO_AFFORD`` times a day (at full
scale), a party at most ``WATCH_AFFORD`` times a day so far. Listing a banana lane or a large exporter
after one seizure would spend the day's scans on one mass of mostly clean containers; a team with
150 scans a day does not do that.

Points are of the size of the static rules' (a listed country is worth 1-3, the discretion noise has a
spread of 0.8): a rule raises a container's chance of a scan, it does not force one; a series of
seizures on one affordable pattern (``MO_MAX_LEVEL`` x ``MO_POINTS``) comes close to forcing it.
"""

from __future__ import annotations

import numpy as np

from models.world.catalogue import COMMODITIES, ORIGINS
from models.world.config import WorldConfig
from models.world.manifests import Draft

ROUTE_BASELINE_DAYS = 7
ROUTE_WATCH_MIN = 20.0
ROUTE_WATCH_WINDOW_DAYS = 7
ROUTE_RULE_DELAY_DAYS = 10
ROUTE_SAMPLE_RATE = 0.05
WATCHED_REGIONS = frozenset({"wsa", "car", "bra"})  # the cocaine source lanes the analysts follow
MO_POINTS, MO_DAYS, MO_AFFORD, MO_MAX_LEVEL = 2.0, 60, 20.0, 3
WATCH_POINTS, WATCH_DAYS, WATCH_AFFORD = 3.0, 180, 2.0
FEEDERS = frozenset({"NLRTM", "BEANR"})
NEVER = np.iinfo(np.int64).max // 2


def _codes(*columns: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense integer codes of the rows' combinations of non-negative integer ``columns``."""
    key = np.zeros(columns[0].size, dtype=np.int64)
    for column in columns:
        key = key * (int(column.max(initial=0)) + 1) + column
    unique, code = np.unique(key, return_inverse=True)
    return code.reshape(-1), unique.size


def lane_routes(draft: Draft) -> np.ndarray:
    """Per row, a code of its port of loading and its transshipment hubs without North Sea feeders."""
    table = draft["route_table"]
    stripped = [tuple(h for h in hubs if h not in FEEDERS) for hubs in table]
    index = {hubs: i for i, hubs in enumerate(sorted(set(stripped)))}
    route = np.array([index[h] for h in stripped], dtype=np.int64)[draft["route_id"]]
    return _codes(draft["origin"], route)[0]


class AnalystRules:
    """The adaptive part of the legacy rules, advanced one day at a time (see the module docstring).

    Call :meth:`start_day` with the day's number before drawing its route samples (:meth:`sample`) and
    scoring its declarations (:meth:`points`), :meth:`learn` with every drug finding as it happens, and
    :meth:`filed` with each day's declarations.
    """

    def __init__(self, draft: Draft, config: WorldConfig) -> None:
        """Precompute the pattern codes of every declaration."""
        self.scale = config.scale
        self.days = config.days
        self.route = lane_routes(draft)
        n_routes = int(self.route.max(initial=-1)) + 1
        chapter = np.array([int(c.hs_code[:2]) for c in COMMODITIES])[draft["commodity"]]
        self.pattern, n_patterns = _codes(self.route, chapter)
        self.shipper, self.consignee = draft["shipper"], draft["consignee"]
        region = np.array([o.region for o in ORIGINS])[draft["origin"]]
        watched = np.isin(region, list(WATCHED_REGIONS))
        self.route_watched = np.zeros(n_routes, dtype=bool)
        self.route_watched[self.route[watched]] = True
        self.route_first = np.full(n_routes, NEVER, dtype=np.int64)
        self.route_daily = np.zeros((n_routes, config.days), dtype=np.int32)
        self.route_rule_from = np.full(n_routes, NEVER, dtype=np.int64)
        self.pattern_until = np.full(n_patterns, -1, dtype=np.int64)
        self.pattern_level = np.zeros(n_patterns, dtype=np.int64)
        self.shipper_until = np.full(int(self.shipper.max(initial=0)) + 1, -1, dtype=np.int64)
        self.consignee_until = np.full(int(self.consignee.max(initial=0)) + 1, -1, dtype=np.int64)
        self.pattern_count = np.zeros(n_patterns, dtype=np.int64)
        self.shipper_count = np.zeros(self.shipper_until.size, dtype=np.int64)
        self.consignee_count = np.zeros(self.consignee_until.size, dtype=np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []

    def filed(self, day: int, rows: np.ndarray) -> None:
        """Count the routings of the declarations filed on ``day`` (known from the next day on)."""
        routes = self.route[rows]
        np.add.at(self.route_daily[:, day], routes, 1)
        self.route_first[routes] = np.minimum(self.route_first[routes], day)
        np.add.at(self.pattern_count, self.pattern[rows], 1)
        np.add.at(self.shipper_count, self.shipper[rows], 1)
        np.add.at(self.consignee_count, self.consignee[rows], 1)

    def learn(self, rows: np.ndarray, known_day: np.ndarray) -> None:
        """Drug findings of ``rows``, each known to the analysts from ``known_day`` on."""
        if rows.size:
            self._pending.append((rows, known_day))

    def start_day(self, day: int) -> None:
        """Bring the rules up to what is known at the start of ``day``."""
        still = []
        for rows, known in self._pending:
            now = known <= day
            hit = rows[now]
            elapsed = max(day, 1)
            pattern, shipper, consignee = self.pattern[hit], self.shipper[hit], self.consignee[hit]
            pattern = pattern[self.pattern_count[pattern] <= MO_AFFORD * self.scale * elapsed]
            shipper = shipper[self.shipper_count[shipper] <= WATCH_AFFORD * elapsed]
            consignee = consignee[self.consignee_count[consignee] <= WATCH_AFFORD * elapsed]
            for code in pattern:  # a handful of findings a day: a loop keeps repeats in one day counted
                listed = self.pattern_until[code] >= day
                self.pattern_level[code] = min(self.pattern_level[code] + 1, MO_MAX_LEVEL) if listed else 1
                self.pattern_until[code] = day + MO_DAYS
            self.shipper_until[shipper] = day + WATCH_DAYS
            self.consignee_until[consignee] = day + WATCH_DAYS
            if (~now).any():
                still.append((rows[~now], known[~now]))
        self._pending = still
        lo = max(day - ROUTE_WATCH_WINDOW_DAYS, 0)
        recent = self.route_daily[:, lo:day].sum(axis=1)
        noticed = (self.route_watched & (self.route_first >= ROUTE_BASELINE_DAYS) & (self.route_first < NEVER)
                   & (recent >= max(ROUTE_WATCH_MIN * self.scale, 3.0)) & (self.route_rule_from == NEVER))
        self.route_rule_from[noticed] = day + ROUTE_RULE_DELAY_DAYS

    def sample(self, rows: np.ndarray, day: int, rng: np.random.Generator) -> np.ndarray:
        """The declarations among ``rows`` (filed on ``day``) drawn for a scan on a watched new route."""
        on_watch = self.route_rule_from[self.route[rows]] <= day
        return rows[on_watch & (rng.random(rows.size) < ROUTE_SAMPLE_RATE)]

    def points(self, rows: np.ndarray, day: int) -> np.ndarray:
        """The seizure-led rules' points of the declarations ``rows`` filed on ``day``."""
        pattern = self.pattern[rows]
        return (MO_POINTS * self.pattern_level[pattern] * (self.pattern_until[pattern] >= day)
                + WATCH_POINTS * ((self.shipper_until[self.shipper[rows]] >= day)
                                  | (self.consignee_until[self.consignee[rows]] >= day)))
