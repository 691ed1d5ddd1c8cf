"""The decision path behind ``POST /v1/score``, loaded in the background at start-up.

Loading the model must not hold up ``/healthz``, and a model that cannot load must not stop the service
(reads of stored decisions do not need it): readiness reports it, and what-if scoring answers 503.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class ModelHolder:
    """Holds the decision path once ``loader`` returned it, or the reason it could not."""

    def __init__(self, loader: Callable[[], Any]) -> None:
        self._loader = loader
        self._path: Any | None = None
        self._error: str | None = None
        self._done = threading.Event()

    def load_in_background(self) -> None:
        """Start loading; :meth:`status` says ``loading`` until it finishes."""
        threading.Thread(target=self.load, name="portrisk-api-model", daemon=True).start()

    def load(self) -> None:
        """Load now (blocking)."""
        try:
            self._path = self._loader()
            self._error = getattr(self._path, "model_error", None)
        except Exception as exc:  # ImportError, ModelError, ...: the service stays up, readiness says why
            log.exception("what-if decision path could not be built")
            self._error = f"{type(exc).__name__}: {exc}"
        finally:
            self._done.set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until loading finished; True when it did within the timeout."""
        return self._done.wait(timeout_s)

    def status(self) -> tuple[bool, str]:
        """(loaded, detail): the model version when loaded, else why not."""
        if not self._done.is_set():
            return False, "loading"
        if self._error is not None or self._path is None:
            return False, f"model unavailable: {self._error}"
        return True, str(getattr(self._path, "model_version", "unknown"))

    def close(self) -> None:
        """Stop the scorer's model thread, if the path has one."""
        close = getattr(getattr(self._path, "scorer", None), "close", None)
        if callable(close):
            close()

    @property
    def path(self) -> Any | None:
        """The decision path, or None while loading or when it failed to build."""
        return self._path if self._done.is_set() else None
