"""A real Prometheus server as a child process, scraping local portrisk services (the demo, the tests).

It runs Debian's ``prometheus`` binary (``apt-get install prometheus``) with a configuration generated
here: the jobs of ``ops/prometheus.yml`` (same job names, so the alerts and dashboards work unchanged)
pointed at the given worker and API addresses, and the rule files of ``ops/rules/``. The API's operator
key goes in a file next to the configuration (mode 0600) and is sent as a bearer token.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from portrisk.errors import ConfigError, PortriskError

OPS_DIR = Path(__file__).resolve().parents[1] / "ops"
RULE_FILES = (OPS_DIR / "rules" / "recording.yml", OPS_DIR / "rules" / "alerts.yml")
WORKER_JOB = "portrisk-worker"
API_JOB = "portrisk-api"
INSTALL_HINT = "install Debian's prometheus package: apt-get install prometheus"


def prometheus_binary() -> str:
    """Path of the ``prometheus`` executable; ConfigError with the install hint when there is none."""
    found = shutil.which("prometheus")
    if found is None:
        raise ConfigError(f"prometheus is not installed; {INSTALL_HINT}")
    return found


def scrape_config(workers: Sequence[str], apis: Sequence[str], key_file: Path | None, *,
                  interval_s: float, rule_files: Sequence[Path] = RULE_FILES) -> dict[str, Any]:
    """The configuration as a dict (written as JSON, which is valid YAML)."""
    interval = f"{max(1, round(interval_s))}s"
    api_job: dict[str, Any] = {"job_name": API_JOB, "static_configs": [{"targets": list(apis)}]}
    if key_file is not None:
        api_job["authorization"] = {"type": "Bearer", "credentials_file": str(key_file)}
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "rule_files": [str(p) for p in rule_files if p.exists()],
        "scrape_configs": [{"job_name": WORKER_JOB, "static_configs": [{"targets": list(workers)}]},
                           *([api_job] if apis else [])],
    }


class LocalPrometheus:
    """Start with :meth:`start`, stop with :meth:`stop` (also on a failed start)."""

    def __init__(self, run_dir: Path, *, workers: Sequence[str], apis: Sequence[str] = (),
                 api_key: str | None = None, interval_s: float = 5.0, port: int = 0) -> None:
        self.run_dir = run_dir
        self.workers, self.apis, self.api_key = tuple(workers), tuple(apis), api_key
        self.interval_s = interval_s
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "prometheus.log"

    def write_config(self) -> Path:
        """Write the configuration (and the key file) into ``run_dir``; return the configuration's path."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        key_file = None
        if self.api_key is not None:
            key_file = self.run_dir / "api-key"
            key_file.touch(mode=0o600)
            key_file.chmod(0o600)
            key_file.write_text(self.api_key, encoding="utf-8")
        path = self.run_dir / "prometheus.yml"
        config = scrape_config(self.workers, self.apis, key_file, interval_s=self.interval_s)
        path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return path

    def start(self, timeout_s: float = 60.0) -> str:
        """Start the server and wait until it is ready; return its URL."""
        binary = prometheus_binary()
        config = self.write_config()
        if self.port == 0:
            self.port = free_port()
        args = [binary, f"--config.file={config}", f"--storage.tsdb.path={self.run_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1d",
                "--web.enable-lifecycle"]
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PortriskError(f"prometheus exited with {self.process.returncode}; see {self.log_file}")
            if _ok(f"{self.url}/-/ready"):
                return self.url
            time.sleep(0.2)
        self.stop()
        raise PortriskError(f"prometheus was not ready after {timeout_s:.0f} s; see {self.log_file}")

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM (Prometheus flushes its head block), SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
