"""The model card: what a model artifact is, what it was trained on and how it was checked.

A model artifact is a directory::

    model.onnx        the serving model (onnxruntime), output P(illicit) as float32 [n]
    model.lgb.txt     the LightGBM text model it was exported from (reasons, retraining, audits)
    card.json         this card
    <extra files>     reference tables the feature code stores beside the model, e.g. tables.json

The card lives in ``scoring`` rather than ``models`` because the serving side must read it and
``scoring`` may not import ``models``; writing artifacts stays in :mod:`models.artifact`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portrisk.errors import ModelError
from scoring.feature_hash import feature_hash

ONNX_FILE = "model.onnx"
LGB_FILE = "model.lgb.txt"
CARD_FILE = "card.json"
RESERVED_FILES = frozenset({ONNX_FILE, LGB_FILE, CARD_FILE})
CARD_FORMAT = 1


@dataclass(frozen=True)
class ModelCard:
    """Metadata of one model artifact; ``feature_hash`` must match ``feature_names``.

    ``files`` maps every file of the artifact except the card to its sha256; :func:`models.artifact.
    save_artifact` fills it so a loader can detect a model file swapped or truncated after the fact.
    """

    version: str
    created_at: str
    feature_names: tuple[str, ...]
    feature_hash: str
    training_start: str
    training_end: str
    data_summary: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    parity: dict[str, Any] = field(default_factory=dict)
    selection_bias: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "feature_names", tuple(self.feature_names))
        if not self.version:
            raise ModelError("model card: version must not be empty")
        actual = feature_hash(self.feature_names)
        if self.feature_hash != actual:
            raise ModelError(
                f"model card {self.version}: feature_hash {self.feature_hash!r} does not match its "
                f"feature names (expected {actual!r})"
            )
        for label, value in (("created_at", self.created_at), ("training_start", self.training_start),
                             ("training_end", self.training_end)):
            try:
                datetime.fromisoformat(value)
            except ValueError as exc:
                raise ModelError(f"model card {self.version}: {label} {value!r} is not ISO 8601") from exc
        if datetime.fromisoformat(self.training_start) > datetime.fromisoformat(self.training_end):
            raise ModelError(
                f"model card {self.version}: training window starts ({self.training_start}) after it ends "
                f"({self.training_end})"
            )

    @classmethod
    def create(
        cls,
        version: str,
        feature_names: Sequence[str],
        training_start: str,
        training_end: str,
        **fields: Any,
    ) -> ModelCard:
        """A card stamped with the current UTC time and the hash computed from ``feature_names``."""
        return cls(
            version=version,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            feature_names=tuple(feature_names),
            feature_hash=feature_hash(feature_names),
            training_start=training_start,
            training_end=training_end,
            **fields,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form; the training window is nested as ``{"start", "end"}``."""
        data = dataclasses.asdict(self)
        data["feature_names"] = list(self.feature_names)
        data["training_window"] = {"start": data.pop("training_start"), "end": data.pop("training_end")}
        return {"format": CARD_FORMAT, **data}

    def to_json(self) -> str:
        """Pretty-printed, key-sorted JSON, so that card diffs in reviews are readable."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        """Inverse of :meth:`to_dict`; ModelError naming the problem for a malformed card."""
        data = dict(data)
        fmt = data.pop("format", None)
        if fmt != CARD_FORMAT:
            raise ModelError(f"model card: expected format {CARD_FORMAT}, got {fmt!r}")
        try:
            window = data.pop("training_window")
            data["training_start"], data["training_end"] = window["start"], window["end"]
            data["feature_names"] = tuple(data["feature_names"])
            return cls(**data)
        except (KeyError, TypeError) as exc:
            raise ModelError(f"model card is malformed: {exc!r}") from exc

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        """Parse a card written by :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"model card is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelError(f"model card: expected a JSON object, got {type(data).__name__}")
        return cls.from_dict(data)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_card(model_dir: str | Path) -> ModelCard:
    """Read ``card.json`` from an artifact directory; ModelError if it is missing or malformed."""
    path = Path(model_dir) / CARD_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"cannot read model card {path}: {exc}") from exc
    return ModelCard.from_json(text)


def verify_files(model_dir: str | Path, card: ModelCard, names: Sequence[str] | None = None) -> None:
    """Check that the artifact's files match the checksums on the card (all of them, or ``names``).

    Raises ModelError naming the first file that is missing, unlisted or altered.
    """
    root = Path(model_dir)
    for name in names if names is not None else sorted(card.files):
        expected = card.files.get(name)
        if expected is None:
            raise ModelError(f"model {card.version}: {name} has no checksum on the card")
        path = root / name
        if not path.is_file():
            raise ModelError(f"model {card.version}: {path} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelError(
                f"model {card.version}: {name} checksum expected {expected[:12]}…, got {actual[:12]}… "
                "(the file was replaced or truncated after the card was written)"
            )
