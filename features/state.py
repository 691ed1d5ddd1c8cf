"""Per-shipper state and the small store interface the feature code keeps it behind.

The worker owns all of a shipper's events (the shipper id is the Kafka key of every manifest and outcome
topic), so a shipper's history is one :class:`PartyState`, read before an event and written after it.
:class:`InMemoryStore` serves tests and offline replay; the worker's partitioned store writes
``PartyState.to_bytes()`` to its compacted changelog topic and restores with ``from_bytes``.

The state is bounded: set-valued history is kept as capped sets of 32-bit hashes (see
:mod:`features.history`), so a shipper's record stays a few hundred bytes whatever its volume.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Protocol

from portrisk.errors import DataError

STATE_FORMAT = 3
# version, n, first_seen, last_seen, v7, v30, n_amend, n_reefer, chapters (2 x 64 bits),
# consignee_overflow, origin_overflow, hs_overflow, n_inspected, n_drugs, n_other, last_finding,
# then the lengths of the five collections that follow; format 3 appends n_checked and n_misfit.
# Format 2 (before the misfit counters) is still read: such a shipper's misfit share is unknown (NaN)
# until its next checked declaration, rather than a zero its record never earned.
_HEAD_V2 = struct.Struct("<BIddddIIQQIIIIIIdHHHHH")
_HEAD = struct.Struct(_HEAD_V2.format + "II")
_HEADS = {3: _HEAD, 2: _HEAD_V2}
_MASK64 = (1 << 64) - 1


@dataclass(slots=True)
class PartyState:
    """What the feature code remembers about one shipper (mutable; updated in place by the pipeline).

    Times are POSIX seconds; ``v7``/``v30`` are exponentially decayed shipment counts valued at
    ``last_seen``; ``chapters`` is a bit set of HS chapters (bit c for chapter c); ``consignees``,
    ``origins`` and ``hs_codes`` are capped sets of hashed ids, country codes and HS6 codes as numbers,
    with overflow counters of items that arrived when the set was full; ``routes`` maps a route hash to
    its count (a capped heavy-hitters table); ``recent`` maps the hashed ids of the shipper's latest
    declarations to their consignee hash (oldest first), so an amendment can be compared with the
    declaration it amends.
    """

    n: int = 0
    first_seen: float = math.nan
    last_seen: float = math.nan
    v7: float = 0.0
    v30: float = 0.0
    n_amend: int = 0
    n_reefer: int = 0
    chapters: int = 0
    consignee_overflow: int = 0
    origin_overflow: int = 0
    hs_overflow: int = 0
    n_inspected: int = 0
    n_drugs: int = 0
    n_other: int = 0
    last_finding: float = math.nan
    n_checked: int = 0
    n_misfit: int = 0
    consignees: set[int] = field(default_factory=set)
    origins: set[int] = field(default_factory=set)
    hs_codes: set[int] = field(default_factory=set)
    routes: dict[int, int] = field(default_factory=dict)
    recent: dict[int, int] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """Compact little-endian encoding (a changelog record value), about 100 bytes plus the sets."""
        head = _HEAD.pack(
            STATE_FORMAT, self.n, self.first_seen, self.last_seen, self.v7, self.v30, self.n_amend,
            self.n_reefer, self.chapters & _MASK64, self.chapters >> 64, self.consignee_overflow,
            self.origin_overflow, self.hs_overflow, self.n_inspected, self.n_drugs, self.n_other,
            self.last_finding, len(self.consignees), len(self.origins), len(self.hs_codes), len(self.routes),
            len(self.recent), self.n_checked, self.n_misfit,
        )
        # Sorted sets make equal states encode to equal bytes; route order is kept because it decides
        # which entry the capped table evicts on a tie.
        route_items = [x for pair in self.routes.items() for x in pair]
        recent_items = [x for pair in self.recent.items() for x in pair]
        return b"".join((
            head,
            struct.pack(f"<{len(self.consignees)}I", *sorted(self.consignees)),
            struct.pack(f"<{len(self.origins)}H", *sorted(self.origins)),
            struct.pack(f"<{len(self.hs_codes)}I", *sorted(self.hs_codes)),
            struct.pack(f"<{len(route_items)}I", *route_items),
            struct.pack(f"<{len(recent_items)}I", *recent_items),
        ))

    @classmethod
    def from_bytes(cls, data: bytes) -> PartyState:
        """Inverse of :meth:`to_bytes`; DataError for a record of another format or a truncated one."""
        head = _HEADS.get(data[0]) if data else None
        if head is None:
            found = data[0] if data else "nothing"
            raise DataError(f"party state: format {found} is not one this code reads"
                            f" ({', '.join(map(str, sorted(_HEADS)))})")
        try:
            fields = head.unpack_from(data)
            (_, n, first_seen, last_seen, v7, v30, n_amend, n_reefer, lo, hi, c_over, o_over, h_over,
             n_insp, n_drugs, n_other, last_finding, n_cons, n_orig, n_hs, n_routes, n_recent) = fields[:22]
            n_checked, n_misfit = fields[22:] if head is _HEAD else (0, 0)
            offset = head.size
            consignees = struct.unpack_from(f"<{n_cons}I", data, offset)
            offset += 4 * n_cons
            origins = struct.unpack_from(f"<{n_orig}H", data, offset)
            offset += 2 * n_orig
            hs_codes = struct.unpack_from(f"<{n_hs}I", data, offset)
            offset += 4 * n_hs
            flat = struct.unpack_from(f"<{2 * n_routes}I", data, offset)
            offset += 8 * n_routes
            pairs = struct.unpack_from(f"<{2 * n_recent}I", data, offset)
            offset += 8 * n_recent
        except struct.error as exc:
            raise DataError(f"party state record is truncated or malformed: {exc}") from exc
        if offset != len(data):
            raise DataError(f"party state record has {len(data) - offset} trailing bytes")
        return cls(
            n=n, first_seen=first_seen, last_seen=last_seen, v7=v7, v30=v30, n_amend=n_amend,
            n_reefer=n_reefer, chapters=lo | (hi << 64), consignee_overflow=c_over, origin_overflow=o_over,
            hs_overflow=h_over, n_inspected=n_insp, n_drugs=n_drugs, n_other=n_other, last_finding=last_finding,
            n_checked=n_checked, n_misfit=n_misfit,
            consignees=set(consignees), origins=set(origins), hs_codes=set(hs_codes),
            routes=dict(zip(flat[::2], flat[1::2], strict=True)),
            recent=dict(zip(pairs[::2], pairs[1::2], strict=True)),
        )


class StateStore(Protocol):
    """Where per-shipper state lives: a dict in tests and replay, a changelogged store in the worker."""

    def get(self, key: str) -> PartyState | None:
        """The state of ``key``, or None for a shipper never seen."""
        ...

    def put(self, key: str, state: PartyState) -> None:
        """Store the state of ``key`` (after the pipeline updated it)."""
        ...


class InMemoryStore:
    """A dict-backed :class:`StateStore`. ``put`` keeps the object itself: the pipeline updates in place."""

    __slots__ = ("states",)

    def __init__(self) -> None:
        """An empty store."""
        self.states: dict[str, PartyState] = {}

    def get(self, key: str) -> PartyState | None:
        """The state of ``key`` or None."""
        return self.states.get(key)

    def put(self, key: str, state: PartyState) -> None:
        """Store ``state`` under ``key``."""
        self.states[key] = state

    def __len__(self) -> int:
        return len(self.states)
