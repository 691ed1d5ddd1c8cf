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
from features.event import NAN, SECONDS_PER_DAY, EventLike, ExtraValue
from features.memo import remember
from features.tables import PartyProfile, ReferenceTables

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


# A party's memoised profile: first seen (None for a party the tables never saw), log volume, rate.
_Profile = tuple[float | None, float, float]


class PartyFeatures:
    """Computes :func:`party_names` for one event from the tables (no state)."""

    __slots__ = ("_extras", "_prior", "_roles")

    def __init__(self, tables: ReferenceTables) -> None:
        """Bind the lookup tables of each configured role and extra once, not per event."""
        config = tables.config
        self._prior = tables.prior
        # Per role: the event attribute holding its id, or the extras key (see features.event.party),
        # the role's profiles, and a memo of them keyed by party id.
        self._roles: list[tuple[str, str | None, dict[str, PartyProfile], dict[str, _Profile]]] = [
            (role.field, role.field[7:] if role.field.startswith("extras.") else None, tables.parties[role.name], {})
            for role in config.party_roles
        ]
        self._extras = [
            (e.key, e.kind == "numeric", tables.encodings.get(f"extra_{e.key}", {})) for e in config.extras
        ]

    def compute(self, event: EventLike, t: float, out: list[float]) -> None:
        """Append the values for ``event`` at ``t`` (POSIX seconds) to ``out``."""
        prior = self._prior
        for attribute, extra_key, profiles, memo in self._roles:
            # Inlined features.event.party: an id is a non-empty value, a string when it is an extra.
            if extra_key is None:
                party_id = getattr(event, attribute, None)
            else:
                extras = event.extras
                party_id = extras.get(extra_key) if extras else None
                if not isinstance(party_id, str):
                    party_id = None
            if not party_id:
                out.extend((NAN, NAN, NAN, NAN))
                continue
            known = memo.get(party_id)
            if known is None:
                known = _profile(profiles, memo, party_id)
            first_seen, volume_log, rate = known
            if first_seen is None:
                out.extend((1.0, NAN, 0.0, prior))
            else:
                out.extend((0.0, max(t - first_seen, 0.0) / SECONDS_PER_DAY, volume_log, rate))
        if self._extras:
            _extras_features(event.extras, self._extras, prior, out)


def _profile(profiles: dict[str, PartyProfile], memo: dict[str, _Profile], party_id: str) -> _Profile:
    profile = profiles.get(party_id)
    known: _Profile = (None, 0.0, 0.0) if profile is None else (profile[0], math.log1p(profile[1]), profile[2])
    return remember(memo, party_id, known)


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
