"""The project's exception tree.

One root, :class:`PortriskError`, so callers can catch everything portrisk raises on purpose. Third-party
errors are translated at the edge with ``raise ... from exc``. This module imports nothing of ours, so
every package (features, scoring, models, stream, api) may import it without creating a cycle.

    PortriskError
    ├── ConfigError          bad settings, port configuration, rules file, mapping file
    ├── BrokerError          the local Kafka broker could not be set up, started or reached
    ├── EventRejected        an input event failed decoding or validation (goes to the DLQ)
    ├── ModelError           a model artifact is missing, malformed or does not fit our features
    │   └── ParityError      ONNX and LightGBM disagree beyond the gate's tolerance
    └── DataError            an input data set (simulated or imported) is unusable
"""

from __future__ import annotations


class PortriskError(Exception):
    """Root of every error portrisk raises on purpose."""


class ConfigError(PortriskError):
    """Settings, port configuration or a configuration file is invalid."""


class BrokerError(PortriskError):
    """The local Kafka broker could not be prepared, started, stopped or reached."""


class EventRejected(PortriskError):
    """An input event could not be decoded or failed validation.

    ``reason`` is a short machine-friendly category (``not_json``, ``schema_version``, ``invalid``, ...)
    and ``detail`` the human-readable explanation; both travel to the dead-letter topic.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ModelError(PortriskError):
    """A model artifact is missing, malformed or incompatible with the running feature code."""


class ParityError(ModelError):
    """The exported ONNX model does not reproduce the LightGBM model within tolerance."""


class DataError(PortriskError):
    """A data set (simulated world, imported history) is missing or unusable."""
