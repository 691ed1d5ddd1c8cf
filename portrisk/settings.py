"""One typed, frozen settings object, built once at start-up and passed in.

Every field can be set from the environment with the ``PORTRISK_`` prefix (``PORTRISK_KAFKA_BOOTSTRAP``,
``PORTRISK_PARTITIONS``, ...). Complex fields such as ``PORTRISK_PORTS`` take JSON. Nothing here reads the
environment at import time: call :func:`load_settings` (or ``Settings()``) where the process starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.ports import DEFAULT_PORTS, PortConfig
from portrisk.errors import ConfigError

KAFKA_VERSION = "4.3.1"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"


class Settings(BaseSettings):
    """Configuration of every portrisk process."""

    model_config = SettingsConfigDict(env_prefix="PORTRISK_", frozen=True, extra="ignore")

    # --- Kafka -------------------------------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        default=None,
        description="bootstrap servers of your own Kafka; unset: the local broker (`portrisk broker start`)",
    )
    kafka_version: str = Field(default=KAFKA_VERSION, description="Apache Kafka version of the local broker")
    broker_port: int | None = Field(
        default=None, ge=1, le=65535, description="fixed client port for the local broker; unset: a free one"
    )
    broker_heap: str = Field(default="768m", description="JVM heap of the local broker (-Xmx)")
    topic_prefix: str = Field(default="", description="prefix for every topic name (isolation, tests)")
    partitions: int = Field(default=6, ge=1, le=1024, description="partitions of every co-partitioned topic")

    # --- Places on disk ----------------------------------------------------------------------------
    home: Path = Field(default=Path.home() / ".portrisk", description="runtime state: broker data, logs")
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "portrisk", description="downloads reused across runs (Kafka jars)"
    )

    # --- Model and decisions ------------------------------------------------------------------------
    model_dir: Path = Field(default=DEFAULT_MODEL_DIR, description="model artifact directory (model.onnx, card.json)")
    batch_budget_ms: float = Field(default=50.0, gt=0, description="latency budget for scoring one micro-batch")
    event_budget_ms: float = Field(default=1.0, gt=0, description="latency budget per event in a micro-batch")
    random_share: float = Field(default=0.10, ge=0, le=1, description="share of scan capacity drawn at random")
    rules_file: Path | None = Field(default=None, description="analyst rules and watchlists (hot-reloaded)")
    reasons_per_decision: int = Field(default=3, ge=0, le=10)
    policy_seed: int = Field(default=20261130, description="seed of the per-event random selection draw")

    # --- Worker ------------------------------------------------------------------------------------
    worker_group: str = Field(default="portrisk-worker", description="consumer group of the workers")
    max_batch: int = Field(default=1000, ge=1, le=50_000, description="records per micro-batch at most")
    metrics_host: str = Field(default="127.0.0.1", description="address the worker's /metrics listens on "
                              "(0.0.0.0 or a host address lets a Prometheus on another machine scrape it)")
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="worker /metrics port (0: a free one)")

    # --- HTTP API (`portrisk serve`) ---------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="address the HTTP API listens on")
    api_port: int = Field(default=8080, ge=0, le=65535, description="HTTP API port (0: a free one)")
    api_keys_file: Path | None = Field(
        default=None, description="API keys file (hashes only); unset: <home>/api/keys.json")

    # --- Domain ------------------------------------------------------------------------------------
    ports: tuple[PortConfig, ...] = Field(default=DEFAULT_PORTS, description="the mainports (JSON list)")

    # --- Logging -----------------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("ports")
    @classmethod
    def _unique_ports(cls, ports: tuple[PortConfig, ...]) -> tuple[PortConfig, ...]:
        if not ports:
            raise ValueError("at least one mainport must be configured")
        ids = [p.id for p in ports]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate port ids: {', '.join(duplicates)}")
        return ports

    @field_validator("topic_prefix")
    @classmethod
    def _prefix_shape(cls, prefix: str) -> str:
        if prefix and not all(c.isalnum() or c in "._-" for c in prefix):
            raise ValueError("topic_prefix may only hold letters, digits, '.', '_' and '-'")
        return prefix

    @property
    def port_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.ports)

    def port(self, port_id: str) -> PortConfig:
        """The configuration of one mainport; ConfigError naming the known ids when unknown."""
        for p in self.ports:
            if p.id == port_id:
                return p
        raise ConfigError(f"unknown port {port_id!r}; configured ports: {', '.join(self.port_ids)}")


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, translating validation errors into ConfigError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"PORTRISK_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
