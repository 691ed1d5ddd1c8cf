"""The mainports: identifiers, transport mode and daily scan capacity.

The port set is configuration (see :class:`portrisk.settings.Settings`); these defaults follow
``DOMAIN.md``: Rotterdam scans about 55,000 of 8.5 M containers a year (~150 a day, ~0.65 %); the other
hubs are one to two orders of magnitude smaller.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PORT_ID = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


class PortConfig(BaseModel):
    """One mainport: its id (used in topic names and the API), mode and scan capacity."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="lower-case id used in topic names, e.g. 'rotterdam'")
    name: str
    mode: Literal["sea", "air"] = "sea"
    containers_per_day: int = Field(gt=0, description="typical arrivals a day (sizing, simulation)")
    capacity_per_day: int = Field(gt=0, description="scans customs can do a day at this port")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not PORT_ID.match(value):
            raise ValueError(f"port id {value!r} must be lower-case letters, digits or '_' (2-32 chars)")
        return value


DEFAULT_PORTS: tuple[PortConfig, ...] = (
    PortConfig(id="rotterdam", name="Port of Rotterdam", containers_per_day=23_000, capacity_per_day=150),
    PortConfig(id="vlissingen", name="North Sea Port (Vlissingen/Terneuzen)", containers_per_day=1_600,
               capacity_per_day=14),
    PortConfig(id="amsterdam", name="Port of Amsterdam", containers_per_day=450, capacity_per_day=5),
    PortConfig(id="moerdijk", name="Port of Moerdijk", containers_per_day=700, capacity_per_day=7),
    PortConfig(id="schiphol", name="Amsterdam Airport Schiphol (air cargo)", mode="air",
               containers_per_day=2_400, capacity_per_day=20),
)
