"""A small simulated world and a model trained on it, made once per test process and shared."""

from __future__ import annotations

import tempfile
from pathlib import Path

from models.train import TrainConfig

# Scaled down to run in seconds, with a raised base rate so that the few inspections still find drugs.
WORLD = {"days": 20, "seed": 3, "scale": 0.15, "base_rate": 0.02}
TRAIN = TrainConfig(refresh_days=2.0)

_made: dict[str, Path] = {}


def _root() -> Path:
    if "root" not in _made:
        _made["root"] = Path(tempfile.mkdtemp(prefix="portrisk-tests-"))
    return _made["root"]


def small_world() -> Path:
    """The directory of the small world (simulated on first use)."""
    if "world" not in _made:
        from models.world import simulate

        simulate(out_dir=_root() / "world", **WORLD)  # type: ignore[arg-type]
        _made["world"] = _root() / "world"
    return _made["world"]


def small_model() -> Path:
    """The directory of a model trained on the small world (trained on first use)."""
    if "model" not in _made:
        from models.train import train_model

        train_model(small_world(), _root() / "model", TRAIN)
        _made["model"] = _root() / "model"
    return _made["model"]
