"""Profiles of the other parties (consignee, declarant, ...) and the configured extra attributes.

A party other than the shipper has events in every partition, so the worker cannot keep its history;
its profile comes from the reference tables as of the model's table window: how long it has been
known, its volume and its smoothed finding rate. A party the tables never saw is *novel* — new
importers show higher illicit rates than established ones (DOMAIN.md). Roles and extras come from
:class:`features.config.FeatureConfig`, so an administration's own party columns (issue 7) get the same
treatment as the contract's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from features.config import FeatureConfig
from features.event import NAN, SECONDS_PER_DAY, EventLike, ExtraValue, party
from features.tables import ReferenceTables

PARTY_SUFFIXES = ("novel", "age_days", "volume_log", "finding_rate")


def party_names(config: FeatureConfig) -> tuple[str, ...]:
    """Feature names of the configured party roles and extras, in order."""
    names = [f"{role.name}_{suffix}" for role in config.party_roles for suffix in PARTY_SUFFIXES]
    for extra in config.extras:
        if extra.kind == "numeric":
            names.append(f"extra_{extra.key}")
        else:
            names += [f"extra_{extra.key}_risk", f"extra_{extra.key}_novel"]
    return tuple(names)


class PartyFeatures:
    """Computes :func:`party_names` for one event from the tables (no state)."""

    __slots__ = ("_extras", "_prior", "_profiles")

    def __init__(self, tables: ReferenceTables) -> None:
        """Bind the lookup tables of each configured role and extra once, not per event."""
        config = tables.config
        self._prior = tables.prior
        self._profiles = [(role.field, tables.parties[role.name]) for role in config.party_roles]
        self._extras = [
            (e.key, e.kind == "numeric", tables.encodings.get(f"extra_{e.key}", {})) for e in config.extras
        ]

    def compute(self, event: EventLike, t: float, out: list[float]) -> None:
        """Append the values for ``event`` at ``t`` (POSIX seconds) to ``out``."""
        prior = self._prior
        for field, profiles in self._profiles:
            party_id = party(event, field)
            if party_id is None:
                out.extend((NAN, NAN, NAN, NAN))
                continue
            profile = profiles.get(party_id)
            if profile is None:
                out.extend((1.0, NAN, 0.0, prior))
            else:
                first_seen, volume, rate = profile
                out.extend((0.0, max(t - first_seen, 0.0) / SECONDS_PER_DAY, math.log1p(volume), rate))
        if self._extras:
            _extras_features(event.extras, self._extras, prior, out)


def _extras_features(
    extras: Mapping[str, ExtraValue] | None,
    specs: list[tuple[str, bool, dict[str, float]]],
    prior: float,
    out: list[float],
) -> None:
    for key, numeric, encoding in specs:
        value = extras.get(key) if extras else None
        if numeric:
            # A string where a number is expected is a mapping error upstream, not a zero.
            out.append(float(value) if isinstance(value, int | float) else NAN)
        elif value is None or value == "":
            out.extend((NAN, NAN))
        else:
            text = str(value)
            rate = encoding.get(text)
            out.extend((prior, 1.0) if rate is None else (rate, 0.0))
