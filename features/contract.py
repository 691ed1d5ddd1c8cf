"""The event contract: ``ManifestEvent`` v1 and ``InspectionOutcome`` v1, and their one codec.

Raw bytes become a typed, frozen event in exactly one place, :func:`decode_manifest` /
:func:`decode_outcome`; every failure there is a :class:`portrisk.errors.EventRejected` whose ``reason``
is one of :data:`REJECTION_REASONS` and whose ``detail`` names the field:

- ``not_json``        the bytes are not UTF-8 JSON
- ``not_object``      the JSON is not an object
- ``schema_version``  ``schema_version`` is missing or not a version this code reads
- ``missing_field``   a required field is absent
- ``invalid_field``   a field has the wrong type or shape (bad check digit, unknown field, ...)
- ``unknown_port``    ``mainport`` is not one of the configured mainports
- ``absurd_value``    a value is physically or temporally implausible (negative or huge weight, an ETA
                      months away from the event, ...)

Sea cargo is keyed by its ISO 6346 container number; air cargo (Schiphol) by the IATA ULD id of the unit
load device it travels in, with the air waybill as ``bill_of_lading``. ``container_id`` is the one key
every later component uses, whatever the mode. JSON Schema files in ``features/schema/`` are generated
from these models (``python -m features.contract``); a test keeps them in step.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from features.identifiers import (
    CONTAINER_TYPE_RE,
    EORI_PATTERN,
    HS_CODE_PATTERN,
    LOCODE_PATTERN,
    ULD_ID_RE,
    ULD_TYPE_RE,
    is_valid_awb,
    is_valid_container_id,
    is_valid_imo,
)
from portrisk.errors import EventRejected

REJECTION_REASONS = (
    "not_json", "not_object", "schema_version", "missing_field", "invalid_field", "unknown_port",
    "absurd_value",
)
SCHEMA_DIR = Path(__file__).with_name("schema")
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Physical limits: ISO 668 rates every container size at 36 t gross at most; the heaviest air pallet
# (20 ft PGA) is rated 13.6 t. Anything above is a typo or a lie, not a shipment.
MAX_GROSS_KG = {"sea": 36_000.0, "air": 14_000.0}
MAX_DECLARED_VALUE_EUR = 250_000_000.0
# An ETA before the event by more than a day, or months after it, is not a live voyage.
ETA_WINDOW = (timedelta(days=-1), timedelta(days=90))
EVENT_TIME_RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
PortId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
Locode = Annotated[str, StringConstraints(pattern=LOCODE_PATTERN)]
Eori = Annotated[str, StringConstraints(pattern=EORI_PATTERN)]
ExtraKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ExtraValue = float | Annotated[str, StringConstraints(max_length=256)]


def _absurd(field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError("absurd_value", "{field}: " + message, {"field": field})


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_shape", message)


class _Event(BaseModel):
    # Lax for Python construction (lists for tuples, ISO strings for times); the decoder validates JSON
    # strictly: a number sent as a string is a producer bug worth seeing in the DLQ, not silently coerced.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ManifestEvent(_Event):
    """One manifest declaration (or an amendment of one) for a container arriving at a mainport."""

    schema_version: Literal[1] = Field(description="contract version; decoders reject unknown versions")
    event_id: Identifier = Field(description="unique id of this event")
    event_time: UtcDatetime = Field(description="when the declaration was filed (UTC)")
    mainport: PortId = Field(description="the mainport of arrival, e.g. 'rotterdam'")
    transport_mode: Literal["sea", "air"]
    container_id: str = Field(description="ISO 6346 container number (sea) or IATA ULD id (air); the key")
    container_type: str = Field(description="ISO 6346 size/type code such as '45R1' (sea) or ULD type (air)")
    bill_of_lading: str = Field(description="bill of lading number (sea) or air waybill 'PPP-SSSSSSSC' (air)")
    shipper_id: Eori = Field(description="EORI-like id of the shipper (the Kafka key)")
    consignee_id: Eori
    notify_party_id: Eori | None = None
    declarant_id: Eori | None = None
    hs_code: Annotated[str, StringConstraints(pattern=HS_CODE_PATTERN)] = Field(description="6-digit HS code")
    goods_description: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    gross_weight_kg: float = Field(gt=0, description="declared gross weight of the goods")
    declared_value_eur: float = Field(ge=0, le=MAX_DECLARED_VALUE_EUR)
    port_of_loading: Locode = Field(description="UN/LOCODE where the goods were loaded")
    transshipment_ports: tuple[Locode, ...] = Field(
        default=(), max_length=8, description="UN/LOCODEs of transshipment in voyage order"
    )
    vessel_imo: str | None = Field(default=None, validate_default=True, description="IMO number; sea only")
    voyage: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{0,15}$")] = Field(
        description="voyage (sea) or flight number (air)"
    )
    eta: UtcDatetime = Field(description="expected arrival at the mainport (UTC)")
    is_amendment: bool = False
    amends_event_id: Identifier | None = Field(default=None, validate_default=True)
    extras: dict[ExtraKey, ExtraValue] = Field(
        default_factory=dict, max_length=32, description="extra declared attributes an administration maps in"
    )

    @property
    def is_reefer(self) -> bool:
        """Refrigerated unit: ISO 6346 type group 'R' (sea) or a thermal ULD type starting with 'R' (air)."""
        if self.transport_mode == "sea":
            return self.container_type[2] == "R"
        return self.container_type[0] == "R"

    @field_validator("event_time")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        if not EVENT_TIME_RANGE[0] <= value < EVENT_TIME_RANGE[1]:
            raise _absurd("event_time", "outside the years 2000-2099")
        return value

    @field_validator("container_id")
    @classmethod
    def _container_id(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("transport_mode") == "air":
            if not ULD_ID_RE.match(value):
                raise _invalid("not an IATA ULD id such as AKE12345KL")
        elif not is_valid_container_id(value):
            raise _invalid("not an ISO 6346 container number with a valid check digit")
        return value

    @field_validator("container_type")
    @classmethod
    def _container_type(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("transport_mode") == "air":
            if not ULD_TYPE_RE.match(value) or not info.data.get("container_id", value).startswith(value):
                raise _invalid("air cargo needs the 3-letter ULD type that starts its container_id")
        elif not CONTAINER_TYPE_RE.match(value):
            raise _invalid("not an ISO 6346 size/type code such as '45R1'")
        return value

    @field_validator("bill_of_lading")
    @classmethod
    def _bill_of_lading(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("transport_mode") == "air":
            if not is_valid_awb(value):
                raise _invalid("not an air waybill 'PPP-SSSSSSSC' with a valid check digit")
        elif not 3 <= len(value) <= 35 or not value.replace("-", "").isalnum() or not value.isupper():
            raise _invalid("bill of lading must be 3-35 upper-case letters, digits or '-'")
        return value

    @field_validator("gross_weight_kg")
    @classmethod
    def _physical_weight(cls, value: float, info: ValidationInfo) -> float:
        limit = MAX_GROSS_KG.get(info.data.get("transport_mode", "sea"), MAX_GROSS_KG["sea"])
        if value > limit:
            raise _absurd("gross_weight_kg", f"above the physical maximum of {limit:.0f} kg")
        return value

    @field_validator("vessel_imo")
    @classmethod
    def _vessel(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            if info.data.get("transport_mode") == "sea":
                raise PydanticCustomError("missing", "sea cargo needs the vessel's IMO number")
        elif not is_valid_imo(value):
            raise _invalid("not a 7-digit IMO number with a valid check digit")
        return value

    @field_validator("eta")
    @classmethod
    def _eta_near_event(cls, value: datetime, info: ValidationInfo) -> datetime:
        event_time = info.data.get("event_time")
        if event_time is not None and not ETA_WINDOW[0] <= value - event_time <= ETA_WINDOW[1]:
            raise _absurd("eta", "more than a day before or 90 days after event_time")
        return value

    @field_validator("amends_event_id")
    @classmethod
    def _amendment(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("is_amendment", False) != (value is not None):
            raise _invalid("set exactly when is_amendment is true")
        return value


class InspectionOutcome(_Event):
    """The result of a customs inspection of one container, reported by inspectors (key: shipper id)."""

    schema_version: Literal[1]
    outcome_id: Identifier
    event_id: Identifier = Field(description="the manifest event that was inspected")
    container_id: str
    shipper_id: Eori
    mainport: PortId
    inspected_at: UtcDatetime
    result: Literal["no_finding", "drugs", "other_irregularity"]
    selection: Literal["model", "rule", "random", "legacy", "tip"] | None = Field(
        default=None,
        description="why the container was selected, when known: model (portrisk's score), rule (an analyst's "
                    "rule or watch list), random (the random share), legacy (the rules before portrisk), tip "
                    "(intelligence naming this container: a tip-off from a partner agency or an informant)",
    )
    inspector_id: Identifier | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @property
    def finding(self) -> bool:
        """True when the inspection found anything (drugs or another irregularity)."""
        return self.result != "no_finding"

    @field_validator("container_id")
    @classmethod
    def _container_id(cls, value: str) -> str:
        if not (is_valid_container_id(value) or ULD_ID_RE.match(value)):
            raise _invalid("not an ISO 6346 container number or an IATA ULD id")
        return value

    @field_validator("inspected_at")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        if not EVENT_TIME_RANGE[0] <= value < EVENT_TIME_RANGE[1]:
            raise _absurd("inspected_at", "outside the years 2000-2099")
        return value


# ---- the codec ------------------------------------------------------------------------------------

E = TypeVar("E", bound=_Event)
_BOUND_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})


def _rejection(exc: ValidationError) -> EventRejected:
    """Translate pydantic's errors into one EventRejected, most fundamental problem first."""
    ranked: list[tuple[int, str, str]] = []
    for err in exc.errors(include_url=False, include_input=False):
        kind, loc = err["type"], err["loc"]
        field = ".".join(str(p) for p in loc) or "(event)"
        if kind == "json_invalid":
            ranked.append((0, "not_json", err["msg"]))
        elif not loc and kind in ("model_type", "model_attributes_type", "dict_type"):
            ranked.append((1, "not_object", "the event must be a JSON object"))
        elif loc and loc[0] == "schema_version":
            detail = f"schema_version: this decoder reads version 1 ({err['msg']})"
            ranked.append((2, "schema_version", detail))
        elif kind == "missing":
            ranked.append((3, "missing_field", f"{field}: {err['msg']}"))
        elif kind == "absurd_value":
            ranked.append((5, "absurd_value", err["msg"]))
        elif kind in _BOUND_ERRORS:
            ranked.append((5, "absurd_value", f"{field}: {err['msg']}"))
        elif kind == "extra_forbidden":
            ranked.append((4, "invalid_field", f"{field}: not a field of the v1 contract"))
        else:
            # A malformed field outranks an implausible one: plausibility checks may rest on it.
            ranked.append((4, "invalid_field", f"{field}: {err['msg']}"))
    ranked.sort(key=lambda r: r[0])
    _, reason, detail = ranked[0]
    if len(ranked) > 1:
        detail += f" (and {len(ranked) - 1} more problem(s))"
    return EventRejected(reason, detail)


def _decode(model: type[E], raw: bytes, known_ports: Collection[str]) -> E:
    try:
        event = model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise _rejection(exc) from exc
    mainport: str = event.mainport  # type: ignore[attr-defined]
    if mainport not in known_ports:
        raise EventRejected("unknown_port", f"mainport: {mainport!r} is not a configured mainport")
    return event


def decode_manifest(raw: bytes, known_ports: Collection[str]) -> ManifestEvent:
    """Bytes from a manifests topic → a validated ManifestEvent, or EventRejected(reason, detail).

    Pass ``known_ports`` as a set (or frozenset) of the configured port ids: it is checked per event.
    """
    return _decode(ManifestEvent, raw, known_ports)


def decode_outcome(raw: bytes, known_ports: Collection[str]) -> InspectionOutcome:
    """Bytes from the inspection-outcomes topic → a validated InspectionOutcome, or EventRejected."""
    return _decode(InspectionOutcome, raw, known_ports)


def encode_event(event: BaseModel | Mapping[str, Any]) -> bytes:
    """UTF-8 JSON of an event (a contract model, or a mapping of its fields, e.g. a simulated row).

    Datetimes are written as RFC 3339 in UTC with a 'Z' suffix; tuples and lists as arrays.
    """
    payload = event.model_dump() if isinstance(event, BaseModel) else event
    return orjson.dumps(payload, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_SERIALIZE_NUMPY)


MANIFEST_FIELDS: tuple[str, ...] = tuple(ManifestEvent.model_fields)
OUTCOME_FIELDS: tuple[str, ...] = tuple(InspectionOutcome.model_fields)


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each contract, keyed by its file name in ``features/schema/``."""
    schemas: dict[str, dict[str, Any]] = {}
    for file_name, model in (
        ("manifest_event.v1.json", ManifestEvent),
        ("inspection_outcome.v1.json", InspectionOutcome),
    ):
        schema = model.model_json_schema(mode="validation")
        schemas[file_name] = {"$schema": JSON_SCHEMA_DIALECT, "$id": file_name, **schema}
    return schemas


def schema_file_text(schema: dict[str, Any]) -> bytes:
    """The exact bytes a schema file holds (sorted keys, 2-space indent, trailing newline)."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_json_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every contract's JSON Schema into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, schema in json_schemas().items():
        path = directory / file_name
        path.write_bytes(schema_file_text(schema))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_json_schemas():
        print(written_path)
