"""The operators' files checked offline with promtool: configuration, rules, alert unit tests, dashboards,
and the metric names of both /metrics registries. Missing promtool fails these tests, it never skips them."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import yaml
from ops_support import dashboard_expressions, rule_expressions, run_promtool
from prometheus_client import CollectorRegistry, generate_latest

from api.keys import ROLES
from portrisk.assembly import _declare_labels
from portrisk.local_prometheus import API_JOB, OPS_DIR, RULE_FILES, WORKER_JOB, LocalPrometheus
from portrisk.metrics import ApiMetrics, WorkerMetrics

PORTS = ("rotterdam", "amsterdam")


def _passed(result: object) -> str:
    return f"{getattr(result, 'stdout', '')}\n{getattr(result, 'stderr', '')}"


def _alert_names() -> set[str]:
    return {r["alert"] for g in yaml.safe_load((OPS_DIR / "rules" / "alerts.yml").read_text())["groups"]
            for r in g["rules"]}


def test_prometheus_config_is_valid(tmp_path: Path) -> None:
    # The config names its key file relative to itself; check a copy that has one.
    ops = shutil.copytree(OPS_DIR, tmp_path / "ops")
    (ops / "portrisk-api-key").write_text("prk.000000000000.secret")
    result = run_promtool("check", "config", str(ops / "prometheus.yml"))
    assert result.returncode == 0, _passed(result)
    assert "2 rule files found" in result.stdout


def test_rules_are_valid_and_lint_clean() -> None:
    result = run_promtool("check", "rules", "--lint=all", *map(str, RULE_FILES))
    assert result.returncode == 0, _passed(result)
    assert "WARNING" not in result.stdout + result.stderr, _passed(result)


def test_alert_unit_tests_pass() -> None:
    tests = sorted(str(p) for p in (OPS_DIR / "tests").glob("*_test.yml"))
    result = run_promtool("test", "rules", *tests)
    assert result.returncode == 0, _passed(result)


def test_every_alert_is_tested_firing_and_silent() -> None:
    alerts = _alert_names()
    firing: set[str] = set()
    silent: set[str] = set()
    for path in (OPS_DIR / "tests").glob("*_test.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    assert alerts - firing == set(), "alerts never shown firing"
    assert alerts - silent == set(), "alerts never shown silent"


def test_every_alert_is_explained_in_the_readme() -> None:
    # An operator paged by an alert searches the README for its name: each must be spelled out there.
    alerts = _alert_names()
    readme = (OPS_DIR.parent / "README.md").read_text()
    operating = readme[readme.index("## Operating portrisk"):]
    assert {a for a in alerts if f"`{a}`" not in operating} == set()


def test_dashboard_expressions_are_valid_promql(tmp_path: Path) -> None:
    # promtool has no "parse" command; as recording rules the expressions get its full syntax check.
    rules = [{"record": f"check:expression_{i}", "expr": e.expr} for i, e in enumerate(dashboard_expressions())]
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, _passed(result)


def test_dashboards_are_what_build_py_writes() -> None:
    spec = importlib.util.spec_from_file_location("dashboards_build", OPS_DIR / "dashboards" / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = build  # its dataclasses look their module up while being defined
    spec.loader.exec_module(build)
    for name, text in build.rendered().items():
        assert (OPS_DIR / "dashboards" / name).read_text() == text, f"run python ops/dashboards/build.py ({name})"
    uids = [json.loads(p.read_text())["uid"] for p in (OPS_DIR / "dashboards").glob("*.json")]
    assert len(uids) == len(set(uids)) == 5


def test_every_rule_and_dashboard_reads_only_portrisk_series() -> None:
    from ops_support import parse

    for e in rule_expressions() + dashboard_expressions():
        for selector in parse(e.expr).selectors:
            name = selector.text.split("{")[0]
            assert name == "up" or "portrisk" in name, (e.origin, selector.text)


def test_the_local_prometheus_config_uses_the_jobs_and_rules_of_ops(tmp_path: Path) -> None:
    ops = yaml.safe_load((OPS_DIR / "prometheus.yml").read_text())
    assert [j["job_name"] for j in ops["scrape_configs"]] == [WORKER_JOB, API_JOB]
    local = LocalPrometheus(tmp_path, workers=["127.0.0.1:9464"], apis=["127.0.0.1:8080"], api_key="prk.x.y")
    config_path = local.write_config()
    config = yaml.safe_load(config_path.read_text())
    assert [j["job_name"] for j in config["scrape_configs"]] == [WORKER_JOB, API_JOB]
    assert [Path(p).name for p in config["rule_files"]] == [Path(p).name for p in ops["rule_files"]]
    assert config["scrape_configs"][1]["authorization"]["type"] == "Bearer"
    assert (tmp_path / "api-key").stat().st_mode & 0o077 == 0
    result = run_promtool("check", "config", str(config_path))
    assert result.returncode == 0, _passed(result)


def test_metric_names_and_help_pass_promtool() -> None:
    worker = WorkerMetrics(CollectorRegistry())
    _declare_labels(worker, PORTS)
    worker.threshold.labels("rotterdam").set(0.4)
    worker.lag.labels("manifests.rotterdam", "0").set(3)
    worker.last_event_time.labels("rotterdam").set(1.7e9)
    worker.model.info({"version": "v1", "feature_hash": "abc", "loaded": "true"})
    api = ApiMetrics(CollectorRegistry())
    api.requests.labels("/v1/score", "POST", "200").inc()
    api.latency.labels("/v1/score", "POST").observe(0.01)
    api.audit_records.labels("written").inc()
    api.auth_failures.labels("401").inc()
    api.outcomes_posted.labels("rotterdam").inc()
    api.read_model_records.labels("decision").inc()
    for registry in (worker.registry, api.registry):
        result = run_promtool("check", "metrics", stdin=generate_latest(registry).decode())
        assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), _passed(result)
    assert "operator" in ROLES  # the role Prometheus' key needs
