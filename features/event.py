"""What the feature code reads from an event, and the keys it derives from it.

The feature code takes any object with the contract's attribute names (:class:`EventLike`): the worker
passes a validated :class:`features.contract.ManifestEvent`; offline replay passes cheap row objects
(named tuples from ``DataFrame.itertuples``, see :mod:`features.rows`) whose times may be POSIX seconds
instead of datetimes, and an imported history (issue 7) may leave fields it cannot fill as ``None``.
Every helper here therefore treats ``None`` (and NaN) as *missing*, never as zero.

The key functions are the one definition of origin country, HS levels, lane and route keys: the table
builder (``models.tables``) calls the same functions, so the keys it writes are the keys looked up here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

ExtraValue = float | str
Time = datetime | float

SECONDS_PER_DAY = 86_400.0
SECONDS_PER_HOUR = 3_600.0
NAN = math.nan

# ISO 6346 size codes (first character) → nominal length in feet.
_SIZE_FEET = {"1": 10.0, "2": 20.0, "3": 30.0, "4": 40.0, "L": 45.0, "M": 48.0}


class EventLike(Protocol):
    """The attributes of a manifest event that feature code reads (read-only)."""

    @property
    def event_id(self) -> str: ...
    @property
    def event_time(self) -> Time: ...
    @property
    def mainport(self) -> str: ...
    @property
    def transport_mode(self) -> str | None: ...
    @property
    def container_type(self) -> str | None: ...
    @property
    def shipper_id(self) -> str: ...
    @property
    def consignee_id(self) -> str | None: ...
    @property
    def notify_party_id(self) -> str | None: ...
    @property
    def declarant_id(self) -> str | None: ...
    @property
    def hs_code(self) -> str | None: ...
    @property
    def gross_weight_kg(self) -> float | None: ...
    @property
    def declared_value_eur(self) -> float | None: ...
    @property
    def port_of_loading(self) -> str | None: ...
    @property
    def transshipment_ports(self) -> Sequence[str] | None: ...
    @property
    def eta(self) -> Time | None: ...
    @property
    def vessel_imo(self) -> str | None: ...
    @property
    def is_amendment(self) -> bool | None: ...
    @property
    def amends_event_id(self) -> str | None: ...
    @property
    def extras(self) -> Mapping[str, ExtraValue] | None: ...


class OutcomeLike(Protocol):
    """The attributes of an inspection outcome that feature code reads."""

    @property
    def shipper_id(self) -> str: ...
    @property
    def inspected_at(self) -> Time: ...
    @property
    def result(self) -> str: ...


def epoch_seconds(value: Time | None) -> float:
    """POSIX seconds of a datetime (or of a number already in seconds); NaN when missing."""
    if value is None:
        return NAN
    if isinstance(value, float | int):
        return float(value)
    return value.timestamp()


def number(value: float | None) -> float:
    """A float, with ``None`` as NaN (imported rows may lack weights or values)."""
    return NAN if value is None else float(value)


def country(locode: str | None) -> str | None:
    """ISO 3166 country of a UN/LOCODE (its first two letters)."""
    return locode[:2] if locode else None


def hs_levels(hs_code: str | None) -> tuple[str, str, str] | None:
    """(HS6 subheading, HS4 heading, HS2 chapter) of an HS code, or None when it is missing."""
    if not hs_code or len(hs_code) < 2:
        return None
    return hs_code[:6], hs_code[:4], hs_code[:2]


def hubs_key(transshipment_ports: Sequence[str] | None) -> str | None:
    """The transshipment hubs in voyage order ('' for a direct voyage); None when the route is unknown."""
    if transshipment_ports is None:
        return None
    return ">".join(transshipment_ports)


def lane_key(port_of_loading: str | None, mainport: str) -> str | None:
    """A lane: port of loading to mainport."""
    return f"{port_of_loading}|{mainport}" if port_of_loading else None


def route_key(port_of_loading: str | None, hubs: str | None, mainport: str) -> str | None:
    """A route: the lane with its transshipment hubs."""
    if not port_of_loading or hubs is None:
        return None
    return f"{port_of_loading}>{hubs}>{mainport}"


def lane_commodity_key(origin_country: str | None, chapter: str | None) -> str | None:
    """Origin country with HS chapter, e.g. 'EC|08' (bananas from Ecuador)."""
    return f"{origin_country}|{chapter}" if origin_country and chapter else None


def is_reefer(transport_mode: str | None, container_type: str | None) -> float:
    """1.0 for a refrigerated unit (ISO 6346 type group 'R'; thermal ULD types start with 'R'), NaN if unknown.

    Mirrors :attr:`features.contract.ManifestEvent.is_reefer` for objects that are not contract models.
    """
    if not container_type or transport_mode is None:
        return NAN
    if transport_mode == "sea":
        return 1.0 if len(container_type) > 2 and container_type[2] == "R" else 0.0
    return 1.0 if container_type[0] == "R" else 0.0


def container_feet(transport_mode: str | None, container_type: str | None) -> float:
    """Nominal length of a sea container in feet from its ISO size code; NaN for air or unknown codes."""
    if transport_mode != "sea" or not container_type:
        return NAN
    return _SIZE_FEET.get(container_type[0], NAN)


def party(event: EventLike, field: str) -> str | None:
    """The id of a party role: a contract attribute (``consignee_id``) or an extra (``extras.forwarder``)."""
    if field.startswith("extras."):
        extras = event.extras
        value = extras.get(field[7:]) if extras else None
        return value if isinstance(value, str) and value else None
    value = getattr(event, field, None)
    return value if value else None
