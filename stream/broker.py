"""A local single-node Apache Kafka (KRaft, broker + controller) for development, tests and the demo.

The official jars (``org.apache.kafka:kafka_2.13`` with a Log4j 2 backend) are resolved by Maven into a
cache directory outside git and reused. The broker runs detached from the process that started it, so
``portrisk broker start`` returns and ``stop`` (from any later process) finds it through a state file.
Users with their own cluster set ``PORTRISK_KAFKA_BOOTSTRAP`` and never touch this module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from portrisk.errors import BrokerError

LOG4J_VERSION = "2.25.3"
SLF4J_VERSION = "2.0.17"
MAIN_CLASS = "kafka.Kafka"


@dataclass(frozen=True)
class BrokerState:
    """What a running local broker left in its state file."""

    pid: int
    bootstrap: str
    controller_port: int
    version: str
    run_dir: str
    started_at: float


@dataclass(frozen=True)
class BrokerStatus:
    up: bool
    bootstrap: str | None
    version: str | None
    pid: int | None
    detail: str


class LocalBroker:
    """One local broker instance, identified by its run directory."""

    def __init__(self, run_dir: Path, cache_dir: Path, version: str, heap: str = "768m",
                 port: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.cache_dir = Path(cache_dir)
        self.version = version
        self.heap = heap
        self.port = port

    # -- paths ----------------------------------------------------------------------------------
    @property
    def lib_dir(self) -> Path:
        return self.cache_dir / f"kafka-{self.version}" / "lib"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "broker.json"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "broker.log"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    # -- public verbs ---------------------------------------------------------------------------
    def start(self, timeout_s: float = 120.0) -> BrokerState:
        """Start the broker, or return the one already running here (idempotent)."""
        running = self._running_state()
        if running is not None:
            return running
        java = require_tool("java", "install a Java 17+ runtime (apt-get install openjdk-17-jre-headless)")
        self.ensure_jars()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        client_port, controller_port = self._choose_ports()
        props = self._write_config(client_port, controller_port)
        (self.run_dir / "ports.json").write_text(json.dumps([client_port, controller_port]))
        if not (self.data_dir / "meta.properties").exists():
            self._format(java, props)
        log = self.log_file.open("ab")
        cmd = [java, f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
               f"-Dlog4j2.configurationFile={self.run_dir / 'log4j2.properties'}",
               "-cp", str(self.lib_dir / "*"), MAIN_CLASS, str(props)]
        # A new session so Ctrl-C in the starting terminal does not reach the broker; stop() ends it.
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=self.run_dir)
        log.close()
        state = BrokerState(pid=proc.pid, bootstrap=f"127.0.0.1:{client_port}", controller_port=controller_port,
                            version=self.version, run_dir=str(self.run_dir), started_at=time.time())
        self.state_file.write_text(json.dumps(asdict(state), indent=2))
        self._wait_ready(proc, state, timeout_s)
        return state

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the broker this run directory started. False when none was running."""
        state = self._read_state()
        if state is None:
            return False
        if not self._is_our_process(state.pid):
            self.state_file.unlink(missing_ok=True)
            return False
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _pid_alive(state.pid):
            time.sleep(0.2)
        if _pid_alive(state.pid):
            os.kill(state.pid, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)
        return True

    def status(self) -> BrokerStatus:
        state = self._read_state()
        if state is None or not self._is_our_process(state.pid):
            return BrokerStatus(False, None, None, None, "not running")
        if not _admin_reachable(state.bootstrap, timeout_s=5.0):
            return BrokerStatus(False, state.bootstrap, state.version, state.pid,
                                f"process {state.pid} runs but does not answer at {state.bootstrap}")
        version = self.logged_version() or state.version
        return BrokerStatus(True, state.bootstrap, version, state.pid, "up")

    def logged_version(self) -> str | None:
        """The version the broker itself logged at start-up ("Kafka version: X")."""
        if not self.log_file.exists():
            return None
        version = None
        with self.log_file.open(errors="replace") as fh:
            for line in fh:
                if "Kafka version:" in line:
                    version = line.split("Kafka version:", 1)[1].split()[0]
        return version

    # -- jars -----------------------------------------------------------------------------------
    def ensure_jars(self) -> Path:
        """Resolve the broker jars with Maven once; later calls reuse the cache."""
        marker = self.lib_dir / ".complete"
        if marker.exists():
            return self.lib_dir
        mvn = require_tool("mvn", "install Maven (apt-get install maven) or set PORTRISK_KAFKA_BOOTSTRAP "
                                  "to use your own Kafka")
        work = self.lib_dir.parent
        if self.lib_dir.exists():
            shutil.rmtree(self.lib_dir)
        work.mkdir(parents=True, exist_ok=True)
        (work / "pom.xml").write_text(_pom(self.version))
        # Not -q: the output is captured either way, and -q drops the warnings that name a transfer
        # failure when the error itself names none (no network: "No plugin found for prefix 'dependency'").
        cmd = [mvn, "-B", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
               f"-DoutputDirectory={self.lib_dir}", "-DincludeScope=runtime"]
        result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0 or not any(self.lib_dir.glob(f"kafka_2.13-{self.version}.jar")):
            cause = _maven_cause(result.stdout + result.stderr)
            raise BrokerError(f"Maven could not download Apache Kafka {self.version} (mvn exit "
                              f"{result.returncode}): {cause}; {_maven_advice(cause, self.version)}")
        marker.write_text(self.version)
        return self.lib_dir

    # -- internals ------------------------------------------------------------------------------
    def _choose_ports(self) -> tuple[int, int]:
        previous = self._previous_ports()
        if self.port is not None:
            if not _port_free(self.port):
                raise BrokerError(f"port {self.port} on 127.0.0.1 is in use: stop what uses it or choose "
                                  "another with PORTRISK_BROKER_PORT")
            return self.port, _free_port()
        # Reuse the previous ports so a restarted broker keeps its address (and KRaft its quorum).
        if previous and all(_port_free(p) for p in previous):
            return previous
        return _free_port(), _free_port()

    def _previous_ports(self) -> tuple[int, int] | None:
        try:
            client, controller = json.loads((self.run_dir / "ports.json").read_text())
            return int(client), int(controller)
        except (OSError, ValueError, TypeError):
            return None

    def _write_config(self, client_port: int, controller_port: int) -> Path:
        props = self.run_dir / "server.properties"
        props.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{client_port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.data_dir}",
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "log.cleaner.backoff.ms=5000",
            "",
        ]))
        (self.run_dir / "log4j2.properties").write_text("\n".join([
            "status = warn",
            "appender.file.type = File",
            "appender.file.name = FILE",
            f"appender.file.fileName = {self.log_file}",
            "appender.file.layout.type = PatternLayout",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n",
            "rootLogger.level = INFO",
            "rootLogger.appenderRef.file.ref = FILE",
            "logger.kafka.name = kafka.request.logger",
            "logger.kafka.level = WARN",
            "",
        ]))
        return props

    def _format(self, java: str, props: Path) -> None:
        cmd = [java, "-Xmx256m", f"-Dlog4j2.configurationFile={self.run_dir / 'log4j2.properties'}",
               "-cp", str(self.lib_dir / "*"), "kafka.tools.StorageTool", "format",
               f"--cluster-id={_cluster_id()}", "-c", str(props), "--ignore-formatted"]
        result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise BrokerError(f"formatting Kafka storage in {self.data_dir} failed: "
                              f"{_last_error_line(result.stdout + result.stderr)}")

    def _wait_ready(self, proc: subprocess.Popen[bytes], state: BrokerState, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.state_file.unlink(missing_ok=True)
                raise BrokerError(f"the Kafka broker exited with code {proc.returncode} during start-up: "
                                  f"{_last_error_line(self._log_tail())} (log: {self.log_file})")
            if _admin_reachable(state.bootstrap, timeout_s=3.0):
                return
            time.sleep(0.5)
        self.stop()
        raise BrokerError(f"the Kafka broker did not answer at {state.bootstrap} within {timeout_s:.0f} s "
                          f"(log: {self.log_file})")

    def _log_tail(self, n: int = 40) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-n:])

    def _read_state(self) -> BrokerState | None:
        try:
            return BrokerState(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _running_state(self) -> BrokerState | None:
        state = self._read_state()
        if state is None or not self._is_our_process(state.pid):
            return None
        if _admin_reachable(state.bootstrap, timeout_s=10.0):
            return state
        raise BrokerError(f"a broker process ({state.pid}) from {self.run_dir} runs but does not answer at "
                          f"{state.bootstrap}; run `portrisk broker stop` and start again")

    def _is_our_process(self, pid: int) -> bool:
        """True only for a live Kafka JVM started with this run directory's configuration."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        own_props = str(self.run_dir / "server.properties").encode()
        return MAIN_CLASS.encode() in cmdline and own_props in cmdline


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BrokerError(f"`{name}` was not found on PATH: {hint}")
    return path


def _pom(version: str) -> str:
    deps = [("org.apache.kafka", "kafka_2.13", version),
            # kafka_2.13 still pulls slf4j 1.7; the Log4j 2 binding needs the 2.x API.
            ("org.slf4j", "slf4j-api", SLF4J_VERSION),
            ("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J_VERSION),
            ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION)]
    body = "\n".join(f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
                     f"<version>{v}</version></dependency>" for g, a, v in deps)
    return ('<project xmlns="http://maven.apache.org/POM/4.0.0">\n  <modelVersion>4.0.0</modelVersion>\n'
            "  <groupId>portrisk</groupId><artifactId>local-kafka</artifactId><version>1</version>\n"
            f"  <dependencies>\n{body}\n  </dependencies>\n</project>\n")


def _cluster_id() -> str:
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (our own Popen not yet reaped) counts as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _admin_reachable(bootstrap: str, timeout_s: float) -> bool:
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000),
                                 bootstrap_timeout_ms=int(timeout_s * 1000), client_id="portrisk-probe")
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Maven's closing boilerplate after the real error: help links, -e/-X hints, the resume command.
_MAVEN_BOILERPLATE = ("To see the full stack trace", "Re-run Maven", "For more information about the errors",
                      "[Help", "After correcting the problems", "mvn ")
# Where the specific cause starts inside Maven's chain "goal failed: dependencies: artifact: reason".
_MAVEN_CAUSE_START = re.compile(r"Could not find artifact|Could not transfer (?:artifact|metadata)"
                                r"|\S+ (?:was not found in|failed to transfer from) ")
_MAVEN_CAUSE_MAX = 240


def _maven_cause(output: str) -> str:
    """The real cause in Maven's output, on one readable line.

    Maven's first [ERROR] line is the one that says what could not be resolved and why; the ones after it
    are generic (help links, "re-run with -e"). Its chain of wrappers is cut down to the specific part.
    When that names no transfer failure (no network before the dependency plugin was ever downloaded),
    the first transfer failure among the warnings is added.
    """
    lines = [_ANSI.sub("", ln).strip() for ln in output.splitlines()]
    errors = [ln.removeprefix("[ERROR]").strip() for ln in lines if ln.startswith("[ERROR]")]
    errors = [ln for ln in errors if ln and not ln.startswith(_MAVEN_BOILERPLATE)]
    if not errors:
        return _last_error_line(output)
    cause = _maven_specific(errors[0])
    if _MAVEN_CAUSE_START.search(cause) is None:
        no_plugin = cause.startswith("No plugin found for prefix")
        if no_plugin:
            cause = cause.split(" in the current project", 1)[0]
        transfer = next((ln.removeprefix("[WARNING]").strip() for ln in lines
                         if ln.startswith("[WARNING]") and "Could not transfer" in ln), None)
        if transfer is not None:
            cause = f"{cause}: {_maven_specific(transfer)}"
        elif no_plugin:
            cause += " (Maven could not download its dependency plugin)"
    if len(cause) <= _MAVEN_CAUSE_MAX:
        return cause
    # Too long: the middle goes (artifact coordinates, URLs), the reason at the end stays.
    head = _MAVEN_CAUSE_MAX * 2 // 5
    return f"{cause[:head].rstrip()} … {cause[head + 3 - _MAVEN_CAUSE_MAX:].lstrip()}"


def _maven_specific(message: str) -> str:
    message = re.sub(r"\s*-> \[Help \d+\]$", "", message)
    starts = list(_MAVEN_CAUSE_START.finditer(message))
    if not starts:
        return message
    cause = message[starts[-1].start():].split(". This failure was cached", 1)[0]
    # "... from/to central (URL): Transfer failed for URL/file.pom: Unknown host ...": keep the reason
    cause = re.sub(r"[Tt]ransfer failed for \S+: ", "", cause)
    if "This failure was cached" in message:  # Maven does not ask Central again for a day by default
        cause += " (cached by Maven: delete ~/.m2/repository/**/*.lastUpdated to retry now)"
    return cause


def _maven_advice(cause: str, version: str) -> str:
    reachable = ("check that Maven Central (repo.maven.apache.org) is reachable from this machine "
                 "(network, proxy in ~/.m2/settings.xml)")
    released = f"that PORTRISK_KAFKA_VERSION ({version}) names a released Apache Kafka version"
    if "not found" in cause or "Could not find" in cause:
        return f"check {released}, and that Maven Central is reachable"
    return f"{reachable}, and {released}"


def _last_error_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if any(k in ln for k in ("ERROR", "Exception", "error", "Could not", "FATAL")):
            return ln[:300]
    return lines[-1][:300] if lines else "no output"
