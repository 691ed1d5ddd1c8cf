"""The streaming worker against the real broker: every event decided once, bad events dead-lettered,
crashes and rebalances neither losing nor double-counting, model trouble degrading instead of stopping."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry
from stream_support import (
    cli_env,
    decisions,
    malformed_payloads,
    offline_features,
    publish,
    read_topic,
    same_features,
    scaled_ports,
    wait_for,
    world_payloads,
)

from features.pipeline import FeaturePipeline
from features.ports import DEFAULT_PORTS
from portrisk.assembly import build_worker
from portrisk.metrics import WorkerMetrics
from portrisk.settings import DEFAULT_MODEL_DIR, Settings
from stream.kafka_clients import make_producer
from stream.policy_state import record_key
from stream.topics import TopicNames

pytestmark = pytest.mark.kafka

# The committed default model; PORTRISK_TEST_MODEL_DIR points the tests at another artifact.
MODEL_DIR = Path(os.environ.get("PORTRISK_TEST_MODEL_DIR", str(DEFAULT_MODEL_DIR)))
SCALE = 0.1
DAYS = 3
PORTS = scaled_ports(SCALE)
PORT_IDS = tuple(p.id for p in PORTS)


@pytest.fixture(scope="module")
def payloads() -> list[bytes]:
    # The world scales the default volumes itself; PORTS only tells the policy the scaled capacities.
    return world_payloads(DEFAULT_PORTS, days=DAYS, seed=7, scale=SCALE)


def settings_for(bootstrap: str, prefix: str, home: Path, **overrides: object) -> Settings:
    # A group of its own per test: a member a test killed stays in its group for a session timeout.
    fields: dict[str, object] = {"model_dir": MODEL_DIR, "max_batch": 300, "ports": PORTS,
                                 "worker_group": f"{prefix}worker", **overrides}
    return Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix, partitions=3, home=home, metrics_port=0,
                    **fields)  # type: ignore[arg-type]


def run_in_process(settings: Settings, idle_exit_s: float = 4.0) -> WorkerMetrics:
    metrics = WorkerMetrics(CollectorRegistry())
    build_worker(settings, metrics).run(idle_exit_s=idle_exit_s)
    return metrics


def event_ids(payloads: list[bytes]) -> list[str]:
    return [orjson.loads(p)["event_id"] for p in payloads]


def assert_matches_offline(records: list[dict], payloads: list[bytes]) -> None:
    names = FeaturePipeline.from_model_dir(MODEL_DIR).names
    expected = offline_features(MODEL_DIR, payloads, PORT_IDS)
    mismatches = [(r["event_id"], diff) for r in records
                  if (diff := same_features(r, names, expected[r["event_id"]])) is not None]
    assert not mismatches, f"{len(mismatches)} decisions differ from the offline replay, e.g. {mismatches[:3]}"


def test_every_event_decided_once_bad_events_dead_lettered(kafka_bootstrap: str, topic_prefix: str,
                                                           tmp_path: Path, payloads: list[bytes]) -> None:
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path)
    bad = malformed_payloads(payloads[0])
    publish(settings, payloads, extra=[("rotterdam", raw) for raw, _ in bad])
    metrics = run_in_process(settings)

    records = decisions(kafka_bootstrap, settings)
    counts = Counter(r["event_id"] for r in records)
    assert set(counts) == set(event_ids(payloads))
    assert max(counts.values()) == 1
    for key in ("event_id", "container_id", "shipper_id", "port", "score", "decision", "selection", "reasons",
                "rule_hits", "model_version", "features", "degraded", "decided_at"):
        assert key in records[0]
    assert not any(r["degraded"] for r in records)

    topics = TopicNames.from_settings(settings)
    dead = [orjson.loads(r.value) for r in read_topic(kafka_bootstrap, topics.dlq)]
    assert sorted(d["reason"] for d in dead) == sorted(reason for _, reason in bad)
    for d in dead:
        assert d["source_topic"] == topics.manifests("rotterdam")
        assert isinstance(d["source_partition"], int) and isinstance(d["source_offset"], int)
        assert base64.b64decode(d["original"]) in {raw for raw, _ in bad}
    assert sum(metrics.dlq.labels(reason)._value.get() for _, reason in bad) == len(bad)

    # Recommendations are exactly the scan decisions, and model picks come with reasons.
    flags = [r for r in records if r["decision"] == "scan"]
    for port in PORTS:
        recommended = {orjson.loads(r.value)["event_id"] for r in read_topic(kafka_bootstrap,
                                                                             topics.recommendations(port.id))}
        assert recommended == {r["event_id"] for r in flags if r["port"] == port.id}
    assert all(r["reasons"] for r in flags if r["selection"] == "model")
    assert_matches_offline(records, payloads)


def test_flags_track_the_ports_scan_capacity(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:
    # Capacity 30 a day at Rotterdam: large enough that chance alone moves a two-day count by ~13 %.
    scale = 0.2
    ports = scaled_ports(scale)
    payloads = world_payloads(DEFAULT_PORTS, days=3, seed=8, scale=scale)
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path, ports=ports, max_batch=1000)
    publish(settings, payloads)
    run_in_process(settings)
    flags = [r for r in decisions(kafka_bootstrap, settings) if r["decision"] == "scan"]
    rotterdam = next(p for p in ports if p.id == "rotterdam")
    per_day = Counter(r["event_time"][:10] for r in flags if r["port"] == "rotterdam")
    # Day 1 starts from a cold threshold; declarations filed after day 3 thin out and are not judged.
    judged = sum(per_day[day] for day in sorted(per_day)[1:3])
    target = 2 * rotterdam.capacity_per_day
    assert 0.65 * target <= judged <= 1.35 * target, per_day


def _worker_process(settings: Settings, idle_exit: float | None = None, extra_env: dict[str, str] | None = None,
                    stdout: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    env = cli_env(settings, **(extra_env or {}))
    args = [sys.executable, "-m", "portrisk.cli", "run"] + (["--idle-exit", str(idle_exit)] if idle_exit else [])
    return subprocess.Popen(args, env=env, text=True, stdout=stdout, stderr=subprocess.PIPE)


class _StderrTail:
    """A worker's stderr, read as it is written (a pipe left unread would block the worker)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.lines.append(line)

    def text(self, wait_s: float = 0.0) -> str:
        """What was written so far; with ``wait_s``, first wait that long for the end of the stream."""
        if wait_s:
            self._thread.join(wait_s)
        return "".join(self.lines)


def _decided(bootstrap: str, settings: Settings) -> int:
    return len(read_topic(bootstrap, TopicNames.from_settings(settings).risk_scores, idle_s=0.5))


def test_metrics_listen_on_the_configured_address_only(kafka_bootstrap: str, topic_prefix: str,
                                                       tmp_path: Path) -> None:
    # 127.0.0.2 is loopback too on Linux, but a different address: the default 127.0.0.1 must then refuse.
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path)
    publish(settings, [])  # the topics
    worker = _worker_process(settings, extra_env={"PORTRISK_METRICS_HOST": "127.0.0.2"}, stdout=subprocess.PIPE)
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert line.startswith("metrics at http://127.0.0.2:"), line or worker.communicate(timeout=30)[1][-2000:]
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        with urllib.request.urlopen(f"http://127.0.0.2:{port}/metrics", timeout=10) as response:
            assert "portrisk_events_consumed_total" in response.read().decode()
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        worker.terminate()
        worker.communicate(timeout=60)


def test_missing_topics_stop_the_worker_with_a_message_naming_them(kafka_bootstrap: str, topic_prefix: str,
                                                                   tmp_path: Path) -> None:
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path)  # no topics created
    worker = _worker_process(settings)
    _, stderr = worker.communicate(timeout=60)
    assert worker.returncode != 0
    assert f"output topics missing on {kafka_bootstrap}: {topic_prefix}" in stderr, stderr[-2000:]
    assert "portrisk topics create" in stderr and "Traceback" not in stderr


def test_a_restarted_worker_carries_on_with_the_policy_it_left(kafka_bootstrap: str, topic_prefix: str,
                                                               tmp_path: Path, payloads: list[bytes]) -> None:
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path)
    half = len(payloads) // 2
    publish(settings, payloads[:half])
    first = build_worker(settings, WorkerMetrics(CollectorRegistry()))
    first.run(idle_exit_s=4.0)
    left = first.processor.policy.state()
    records = read_topic(kafka_bootstrap, TopicNames.from_settings(settings).policy_state)
    assert records and orjson.loads(records[-1].value)["model_version"] == first.processor.model_version

    # A new worker restores it at its first assignment, before deciding anything: warm thresholds, not the
    # top score of its first events. Then it decides the rest of the stream as usual.
    second = build_worker(settings, WorkerMetrics(CollectorRegistry()))
    cold = second.processor.policy.state()
    assert cold != left
    publish(settings, payloads[half:])
    seen: list[dict[str, object]] = []
    original = second.processor.process

    def spy(items, store):  # type: ignore[no-untyped-def]
        if not seen:
            seen.append(second.processor.policy.state())
        return original(items, store)

    second.processor.process = spy  # type: ignore[method-assign]
    second.run(idle_exit_s=4.0)
    assert seen and seen[0] == left
    assert {r["event_id"] for r in decisions(kafka_bootstrap, settings)} == set(event_ids(payloads))

    # A record of another model is not restored: its scores are on another scale.
    third = build_worker(settings, WorkerMetrics(CollectorRegistry()))
    third.processor.model_version = "another-model"
    fresh = third.processor.policy.state()
    third.run(idle_exit_s=2.0)
    assert third.processor.policy.state() == fresh

    # A malformed state (or one of another state version) is not half-loaded and does not stop the worker.
    fourth = build_worker(settings, WorkerMetrics(CollectorRegistry()))
    key = record_key(settings.worker_group, fourth.processor.model_version)
    broken = {"version": 1, "model_version": fourth.processor.model_version, "policy": {
        "version": 1, "ports": {"rotterdam": left["ports"]["rotterdam"], "vlissingen": {"windows": "garbage"}}}}
    producer = make_producer(kafka_bootstrap)
    producer.send(TopicNames.from_settings(settings).policy_state, key=key.encode(), value=orjson.dumps(broken))
    producer.flush()
    producer.close()
    fresh = fourth.processor.policy.state()
    fourth.run(idle_exit_s=2.0)
    assert fourth.processor.policy.state() == fresh


def test_sigkill_mid_stream_then_restart_loses_nothing_and_counts_nothing_twice(
        kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, payloads: list[bytes]) -> None:
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path, max_batch=100)
    publish(settings, payloads)
    worker = _worker_process(settings)
    try:
        assert wait_for(lambda: _decided(kafka_bootstrap, settings) >= len(payloads) // 4, 120), \
            "the worker made no progress"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    assert _decided(kafka_bootstrap, settings) < len(payloads), "killed too late to test a restart"

    restarted = _worker_process(settings, idle_exit=5)
    _, stderr = restarted.communicate(timeout=300)
    assert restarted.returncode == 0, stderr[-2000:]

    records = decisions(kafka_bootstrap, settings)
    assert {r["event_id"] for r in records} == set(event_ids(payloads))
    assert_matches_offline(records, payloads)  # duplicates too: a replay decides from the same state


def test_two_workers_one_stopped_mid_stream(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path,
                                            payloads: list[bytes]) -> None:
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path, max_batch=100)
    publish(settings, payloads)
    first, second = _worker_process(settings, idle_exit=8), _worker_process(settings, idle_exit=8)
    tails = [_StderrTail(first), _StderrTail(second)]
    split = re.compile(r"partitions assigned .*traffic_share=0\.")
    try:
        # Both assigned partitions before the first is stopped: they split the partitions (and the capacity).
        # (Two members in the group is not enough: a rebalance can still be under way when it is stopped.)
        assert wait_for(lambda: all(split.search(tail.text()) for tail in tails), 120), \
            "the two workers never shared the partitions: " + tails[0].text()[-1000:]
        assert wait_for(lambda: _decided(kafka_bootstrap, settings) >= len(payloads) // 4, 120)
        first.send_signal(signal.SIGTERM)
        first.wait(60)
        first_log = tails[0].text(wait_s=10)
        assert first.returncode == 0, first_log[-2000:]
        second.wait(300)
        stderr = tails[1].text(wait_s=10)
        assert second.returncode == 0, stderr[-2000:]
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
    records = decisions(kafka_bootstrap, settings)
    assert {r["event_id"] for r in records} == set(event_ids(payloads))
    assert_matches_offline(records, payloads)
    # Each worker's policy was given its share of the ports' capacity on every rebalance: its partitions
    # of the three (together the whole), and the survivor all of it.
    shares = [re.findall(r"partitions assigned .*traffic_share=([\d.]+)", log) for log in (first_log, stderr)]
    assert {"0.3333", "0.6667"} <= set(shares[0] + shares[1]), shares
    assert shares[1][-1] == "1.0", shares


def test_a_model_that_fails_to_load_degrades_decisions(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path,
                                                       payloads: list[bytes]) -> None:
    broken = tmp_path / "model"
    shutil.copytree(MODEL_DIR, broken)
    (broken / "model.onnx").write_bytes(b"not an onnx model")
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path, model_dir=broken)
    publish(settings, payloads[:300])
    metrics = run_in_process(settings)
    records = decisions(kafka_bootstrap, settings)
    assert len(records) == 300
    assert all(r["degraded"] and r["degraded_reason"] == "model_unavailable" for r in records)
    assert metrics.degraded.labels("model_unavailable")._value.get() == 300


def test_an_exceeded_budget_degrades_decisions(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path,
                                               payloads: list[bytes]) -> None:
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path, batch_budget_ms=0.001, event_budget_ms=0.000001)
    publish(settings, payloads[:300])
    metrics = run_in_process(settings)
    records = decisions(kafka_bootstrap, settings)
    assert len(records) == 300
    assert all(r["degraded"] and r["degraded_reason"] == "budget_exceeded" for r in records)
    assert metrics.budget_overruns._value.get() >= 1
