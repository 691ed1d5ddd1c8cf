"""Write the Grafana dashboards (``ops/dashboards/*.json``) from the panel lists below.

Generated rather than hand-edited so that every panel has the same datasource, layout and units, and so
that a reviewer reads queries, not JSON. ``python ops/dashboards/build.py`` rewrites the files; a test
fails when they differ from what this script writes. Import them in Grafana (Dashboards → Import) or
provision the folder; each asks for a Prometheus datasource through its ``datasource`` variable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"  # Grafana's rate window: at least four scrape intervals


@dataclass(frozen=True)
class Panel:
    """One panel: queries as (PromQL, legend) pairs."""

    title: str
    queries: tuple[tuple[str, str], ...]
    unit: str = "short"
    kind: str = "timeseries"  # timeseries | stat | heatmap
    width: int = 12
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    port_variable: bool = False
    time_from: str = "now-6h"
    extra_tags: tuple[str, ...] = field(default_factory=tuple)


def q(expr: str, legend: str = "") -> tuple[str, str]:
    return (" ".join(expr.split()), legend)


def quantiles(metric: str, by: str = "", selector: str = "", window: str = RATE) -> tuple[tuple[str, str], ...]:
    """p50, p90 and p99 of a histogram, optionally per label ``by``."""
    group = f"le, {by}" if by else "le"
    suffix = f" {{{{{by}}}}}" if by else ""
    return tuple(q(f"histogram_quantile({p}, sum by ({group}) (rate({metric}_bucket{selector}[{window}])))",
                   f"p{round(p * 100)}{suffix}") for p in (0.5, 0.9, 0.99))


P = '{port=~"$port"}'

OVERVIEW = Dashboard("portrisk-overview", "portrisk / overview", "Is portrisk deciding, on time, within capacity?", (
    Panel("Workers up", (q('sum(up{job="portrisk-worker"})'),), kind="stat", width=6),
    Panel("API servers up", (q('sum(up{job="portrisk-api"})'),), kind="stat", width=6),
    Panel("Decisions slower than 5 s (1 h)", (q("portrisk:decision_latency_slo_errors:ratio_rate1h"),),
          unit="percentunit", kind="stat", width=6, description="SLO: at most 1 %."),
    Panel("Degraded decisions", (q(f"sum(rate(portrisk_degraded_decisions_total[{RATE}])) / "
                                   f"sum(rate(portrisk_decisions_total[{RATE}]))"),),
          unit="percentunit", kind="stat", width=6, description="Share decided on the rules-only fallback."),
    Panel("Manifest events consumed", (q("port:portrisk_events_consumed:rate5m", "{{port}}"),), unit="ops"),
    Panel("Decisions", (q("sum by (decision) (port_decision_selection:portrisk_decisions:rate5m)", "{{decision}}"),),
          unit="ops"),
    Panel("Flags in the last 24 h / scan capacity", (q("port:portrisk_flags_vs_capacity:ratio1d", "{{port}}"),),
          unit="percentunit", description="1 = flags match the port's daily capacity; alert outside 0.5-1.5."),
    Panel("Hit rate by selection reason (7 d, all ports)",
          (q("selection:portrisk_inspection_hit_ratio:ratio7d", "{{selection}}"),), unit="percentunit",
          description="Inspections that found anything / inspections reported, by why the container was selected."),
    Panel("Consumer lag", (q("topic:portrisk_consumer_lag:sum", "{{topic}}"),)),
    Panel("Dead-lettered events", (q("reason:portrisk_dlq_events:rate5m", "{{reason}}"),), unit="ops"),
    Panel("Decision latency (event timestamp → acknowledged decision)",
          quantiles("portrisk_decision_latency_seconds"), unit="s"),
    Panel("API requests by status", (q(f"sum by (status) (rate(portrisk_api_requests_total[{RATE}]))", "{{status}}"),),
          unit="reqps"),
))

PORT = Dashboard("portrisk-port", "portrisk / per port", "One mainport: arrivals, flags, scores, outcomes.", (
    Panel("Arrivals: consumed vs configured", (
        q(f"port:portrisk_events_consumed:rate5m{P}", "consumed {{port}}"),
        q(f"max by (port) (portrisk_expected_arrivals_per_day{P}) / 86400", "configured {{port}}")), unit="ops"),
    Panel("Flags in the last 24 h vs scan capacity", (
        q(f"port:portrisk_flags:increase1d{P}", "flags {{port}}"),
        q(f"max by (port) (portrisk_scan_capacity_per_day{P})", "capacity {{port}}"))),
    Panel("Flags by selection reason", (
        q('sum by (port, selection) (port_decision_selection:portrisk_decisions:rate5m{port=~"$port", '
          'decision="scan"})', "{{port}} {{selection}}"),), unit="ops"),
    Panel("Model score threshold", (q(f"max by (port) (portrisk_selection_threshold{P})", "{{port}}"),)),
    Panel("Score quantiles", quantiles("portrisk_score", "port", P)),
    Panel("Hit rate by selection reason (7 d)", (
        q(f"port_selection:portrisk_inspection_hit_ratio:ratio7d{P}", "{{port}} {{selection}}"),),
        unit="percentunit"),
    Panel("Inspection outcomes in the last 24 h", (
        q(f"sum by (port, result) (increase(portrisk_inspection_outcomes_total{P}[1d]))", "{{port}} {{result}}"),)),
    Panel("Outcomes posted through the API", (
        q(f"sum by (port) (rate(portrisk_api_outcomes_posted_total{P}[{RATE}]))", "{{port}}"),), unit="ops"),
    Panel("Age of the newest event consumed (event time)", (
        q(f"time() - max by (port) (portrisk_last_event_timestamp_seconds{P})", "{{port}}"),), unit="s",
        description="Grows when a feed stops or when its events arrive late."),
), port_variable=True)

MODEL = Dashboard("portrisk-model", "portrisk / model and selection",
                  "Score distribution, flags against capacity, random share and hit rates from outcomes.", (
    Panel("Score distribution", (q(f"sum by (le) (increase(portrisk_score_bucket{P}[{RATE}]))", "{{le}}"),),
          kind="heatmap", width=24, unit="short"),
    Panel("Flags in the last 24 h / scan capacity", (q(f"port:portrisk_flags_vs_capacity:ratio1d{P}", "{{port}}"),),
          unit="percentunit"),
    Panel("Flags issued while the last 24 h were over 1.5x capacity", (
        q(f"sum by (port) (increase(portrisk_over_capacity_flags_total{P}[1h]))", "{{port}}"),),
        description="Counted by the selection policy in event time; capacity is a target, flags are never refused."),
    Panel("Random share of flags (24 h)", (q(f"port:portrisk_random_flag_share:ratio1d{P}", "{{port}}"),),
          unit="percentunit", description="Unbiased sample for hit-rate estimates; the policy targets 10 %."),
    Panel("Hit rate by port and selection reason (7 d)", (
        q(f"port_selection:portrisk_inspection_hit_ratio:ratio7d{P}", "{{port}} {{selection}}"),),
        unit="percentunit"),
    Panel("Drug hit rate by port and selection reason (7 d)", (
        q(f"port_selection:portrisk_inspection_drug_hit_ratio:ratio7d{P}", "{{port}} {{selection}}"),),
        unit="percentunit"),
    Panel("Model hit rate / random hit rate (7 d)", (
        q(f"port:portrisk_model_hit_lift_over_random:ratio7d{P}", "{{port}}"),),
        description="The model's lift over random selection, measured on inspection outcomes."),
    Panel("Outcomes reported per flag (7 d)", (
        q(f"port_selection:portrisk_inspection_coverage:ratio7d{P}", "{{port}} {{selection}}"),),
        unit="percentunit", description="Hit rates are only as good as the share of scans whose result came back."),
    Panel("Model score threshold", (q(f"max by (port) (portrisk_selection_threshold{P})", "{{port}}"),)),
    Panel("Degraded decisions by cause", (
        q(f"sum by (reason) (rate(portrisk_degraded_decisions_total[{RATE}]))", "{{reason}}"),), unit="ops"),
    Panel("Model scoring time per micro-batch", quantiles("portrisk_scoring_latency_seconds"), unit="s"),
    Panel("Model scoring time per row", quantiles("portrisk_scoring_row_latency_seconds"), unit="s"),
    Panel("Micro-batches over the latency budget", (
        q(f"sum(rate(portrisk_budget_overruns_total[{RATE}]))", "overruns"),), unit="ops"),
    Panel("Events per micro-batch", quantiles("portrisk_batch_events")),
    Panel("Model in service", (q("max by (version, feature_hash, loaded) (portrisk_model_info)",
                                 "{{version}} loaded={{loaded}}"),), kind="stat"),
), port_variable=True, time_from="now-7d")

KAFKA = Dashboard("portrisk-kafka", "portrisk / Kafka", "Lag, throughput, dead letters, partitions and state.", (
    Panel("Lag per partition", (q("max by (topic, partition) (portrisk_consumer_lag)", "{{topic}}/{{partition}}"),),
          width=24),
    Panel("Manifest events consumed", (q("port:portrisk_events_consumed:rate5m", "{{port}}"),), unit="ops"),
    Panel("Decisions published", (q(f"sum(rate(portrisk_decisions_total[{RATE}]))", "risk-scores"),
                                  q(f'sum by (port) (rate(portrisk_decisions_total{{decision="scan"}}[{RATE}]))',
                                    "scan-recommendations.{{port}}")), unit="ops"),
    Panel("Inspection outcomes consumed", (
        q(f"sum by (port) (rate(portrisk_inspection_outcomes_total[{RATE}]))", "{{port}}"),), unit="ops"),
    Panel("Dead-lettered events by reason", (
        q(f"sum by (reason) (rate(portrisk_dlq_events_total[{RATE}]))", "{{reason}}"),), unit="ops"),
    Panel("Decision latency (event timestamp → acknowledged decision)",
          quantiles("portrisk_decision_latency_seconds"), unit="s"),
    Panel("Assigned partitions per worker", (q("sum by (instance) (portrisk_assigned_partitions)", "{{instance}}"),)),
    Panel("Rebalances in the last hour", (q("sum by (instance) (increase(portrisk_rebalances_total[1h]))",
                                            "{{instance}}"),)),
    Panel("Shipper states held", (q("sum by (instance) (portrisk_state_entries)", "{{instance}}"),)),
    Panel("State restore time after assignment", quantiles("portrisk_state_restore_seconds", window="1h"), unit="s"),
    Panel("Replayed events skipped", (
        q(f"sum(rate(portrisk_replayed_events_skipped_total[{RATE}]))", "skipped"),
        q(f"sum(rate(portrisk_state_restored_entries_total[{RATE}]))", "states restored")), unit="ops"),
))

API = Dashboard("portrisk-api", "portrisk / API", "Requests, latency, errors, audit and the read model.", (
    Panel("Requests by route", (q(f"sum by (route, method) (rate(portrisk_api_requests_total[{RATE}]))",
                                  "{{method}} {{route}}"),), unit="reqps", width=24),
    Panel("Client errors (4xx) share", (
        q(f'sum(rate(portrisk_api_requests_total{{status=~"4.."}}[{RATE}])) / '
          f"sum(rate(portrisk_api_requests_total[{RATE}]))", "4xx"),), unit="percentunit"),
    Panel("Server errors (5xx) share", (
        q(f'sum(rate(portrisk_api_requests_total{{status=~"5.."}}[{RATE}])) / '
          f"sum(rate(portrisk_api_requests_total[{RATE}]))", "5xx"),), unit="percentunit"),
    Panel("Latency by route (p99)", (
        q(f"histogram_quantile(0.99, sum by (le, route) (rate(portrisk_api_request_latency_seconds_bucket[{RATE}])))",
          "{{route}}"),), unit="s"),
    Panel("Latency, all routes", quantiles("portrisk_api_request_latency_seconds"), unit="s"),
    Panel("Refused by access control", (
        q(f"sum by (status) (rate(portrisk_api_auth_failures_total[{RATE}]))", "{{status}}"),), unit="reqps"),
    Panel("Audit records", (q(f"sum by (result) (rate(portrisk_api_audit_records_total[{RATE}]))", "{{result}}"),),
          unit="ops", description="Every /v1 request writes one; 'failed' ones were answered 503."),
    Panel("Read model lag", (q("max by (instance) (portrisk_api_read_model_lag)", "{{instance}}"),)),
    Panel("Read model records applied", (
        q(f"sum by (kind) (rate(portrisk_api_read_model_records_total[{RATE}]))", "{{kind}}"),), unit="ops"),
    Panel("Read model rebuilds (24 h)", (q("sum(increase(portrisk_api_read_model_rebuilds_total[1d]))", "rebuilds"),),
          kind="stat"),
    Panel("Outcomes posted", (q(f"sum by (port) (rate(portrisk_api_outcomes_posted_total[{RATE}]))", "{{port}}"),),
          unit="ops"),
))

DASHBOARDS = {"overview": OVERVIEW, "port": PORT, "model": MODEL, "kafka": KAFKA, "api": API}


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, object]:
    height = 4 if panel.kind == "stat" else 8
    targets = [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend,
                **({"format": "heatmap"} if panel.kind == "heatmap" else {})}
               for i, (expr, legend) in enumerate(panel.queries)]
    body: dict[str, object] = {
        "id": panel_id, "type": panel.kind, "title": panel.title, "description": panel.description,
        "datasource": DATASOURCE, "gridPos": {"h": height, "w": panel.width, "x": x, "y": y},
        "targets": targets, "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
    }
    if panel.kind == "heatmap":
        # The buckets are Prometheus' own: Grafana must not re-bucket them.
        body["options"] = {"calculate": False, "yAxis": {"axisPlacement": "left"}, "cellGap": 1}
    elif panel.kind == "timeseries":
        body["options"] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                           "tooltip": {"mode": "multi", "sort": "desc"}}
    return body


def _variables(dashboard: Dashboard) -> list[dict[str, object]]:
    variables: list[dict[str, object]] = [{
        "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
        "current": {}, "hide": 0, "refresh": 1}]
    if dashboard.port_variable:
        query = "label_values(portrisk_scan_capacity_per_day, port)"  # every configured port, trafficked or not
        variables.append({
            "name": "port", "label": "Mainport", "type": "query", "datasource": DATASOURCE,
            "query": {"query": query, "refId": "port"}, "definition": query, "refresh": 2, "sort": 1,
            "multi": True, "includeAll": True, "allValue": ".*", "current": {}, "hide": 0})
    return variables


def render(dashboard: Dashboard) -> dict[str, object]:
    """The dashboard's Grafana JSON model."""
    panels, x, y, row_height = [], 0, 0, 0
    for i, panel in enumerate(dashboard.panels, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        panels.append(_panel_json(panel, i, x, y))
        row_height = max(row_height, 4 if panel.kind == "stat" else 8)
        x += panel.width
    links = [{"title": "portrisk", "type": "dashboards", "tags": ["portrisk"], "asDropdown": True}]
    return {
        "uid": dashboard.uid, "title": dashboard.title, "description": dashboard.description,
        "tags": ["portrisk", *dashboard.extra_tags], "timezone": "browser", "editable": True,
        "schemaVersion": 39, "version": 1, "refresh": "30s", "time": {"from": dashboard.time_from, "to": "now"},
        "templating": {"list": _variables(dashboard)}, "annotations": {"list": []}, "links": links,
        "panels": panels,
    }


def rendered() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {f"{name}.json": json.dumps(render(d), indent=2, ensure_ascii=False) + "\n"
            for name, d in DASHBOARDS.items()}


def main() -> None:
    for name, text in rendered().items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
