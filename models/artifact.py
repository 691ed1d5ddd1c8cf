"""Writing model artifacts: ``model.onnx``, ``model.lgb.txt``, ``card.json`` and extra files.

The card and the readers live in :mod:`scoring.card` (serving must read them without importing
``models``); they are re-exported here so training code has one place to import from.

An artifact is written to a temporary sibling directory and renamed into place, so a worker that
watches the models folder never sees a half-written model, and an existing artifact is never
overwritten: a model version is immutable once published.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import lightgbm

from portrisk.errors import ModelError
from scoring.card import (
    CARD_FILE,
    LGB_FILE,
    ONNX_FILE,
    RESERVED_FILES,
    ModelCard,
    load_card,
    verify_files,
)
from scoring.feature_hash import describe_difference

__all__ = [
    "CARD_FILE",
    "LGB_FILE",
    "ONNX_FILE",
    "ModelCard",
    "load_card",
    "save_artifact",
    "verify_files",
]


def save_artifact(
    model_dir: str | Path,
    booster: lightgbm.Booster,
    onnx_bytes: bytes,
    card: ModelCard,
    extra_files: Mapping[str, bytes] | None = None,
) -> ModelCard:
    """Write a complete artifact to ``model_dir`` (which must not exist yet) and return the stored card.

    The returned card is ``card`` with ``files`` set to the sha256 of every file written. Raises
    ModelError if the booster's feature names differ from the card's, if an extra file name is
    reserved or not a plain file name, or if ``model_dir`` already exists.
    """
    target = Path(model_dir)
    if target.exists():
        raise ModelError(f"model artifact {target} already exists; a published model is never overwritten")
    difference = describe_difference(card.feature_names, booster.feature_name())
    if difference:
        raise ModelError(f"booster does not match card {card.version}: {difference}")
    if not onnx_bytes:
        raise ModelError("onnx model is empty")

    files: dict[str, bytes] = {
        ONNX_FILE: onnx_bytes,
        LGB_FILE: booster.model_to_string().encode("utf-8"),
    }
    for name, content in (extra_files or {}).items():
        if name in RESERVED_FILES or not _is_plain_name(name):
            raise ModelError(f"extra file name {name!r} is reserved or not a plain file name")
        files[name] = content
    stored = dataclasses.replace(
        card, files={name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    )

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it private; workers may run as another user
        for name, content in files.items():
            (staging / name).write_bytes(content)
        (staging / CARD_FILE).write_text(stored.to_json(), encoding="utf-8")
        os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelError(f"cannot write model artifact {target}: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return stored


def _is_plain_name(name: str) -> bool:
    return bool(name) and name not in {".", ".."} and "/" not in name and "\\" not in name
