"""Every Prometheus metric portrisk exports, in one module, registered on a registry passed in.

Names carry the ``portrisk_`` prefix and ``_total`` / ``_seconds`` suffixes; labels take bounded values
only (ports, decisions, selection reasons, DLQ reasons, partitions) — never a container or shipper id.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

# Sub-millisecond resolution: scoring a batch row takes microseconds, a decision a few milliseconds.
FAST_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
E2E_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SCORE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)


class WorkerMetrics:
    """The streaming worker's metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events_consumed = Counter(
            "portrisk_events_consumed_total", "Manifest events consumed, by mainport.", ["port"], registry=registry)
        self.decisions = Counter(
            "portrisk_decisions_total", "Decisions published, by mainport, decision and selection reason.",
            ["port", "decision", "selection"], registry=registry)
        self.dlq = Counter(
            "portrisk_dlq_events_total", "Events sent to the dead-letter topic, by rejection reason.",
            ["reason"], registry=registry)
        self.duplicates_skipped = Counter(
            "portrisk_replayed_events_skipped_total",
            "Events skipped on replay because shipper state already included them.", registry=registry)
        self.outcomes = Counter(
            "portrisk_inspection_outcomes_total",
            "Inspection outcomes folded into shipper history, by mainport, result and selection reason.",
            ["port", "result", "selection"], registry=registry)
        self.scoring_latency = Histogram(
            "portrisk_scoring_latency_seconds", "Model scoring time of one micro-batch.",
            buckets=FAST_BUCKETS, registry=registry)
        self.scoring_row_latency = Histogram(
            "portrisk_scoring_row_latency_seconds", "Model scoring time per row (batch time / batch size).",
            buckets=FAST_BUCKETS, registry=registry)
        self.decision_latency = Histogram(
            "portrisk_decision_latency_seconds",
            "End-to-end latency from the event's Kafka timestamp to its acknowledged decision.",
            buckets=E2E_BUCKETS, registry=registry)
        self.batch_size = Histogram(
            "portrisk_batch_events", "Manifest events per micro-batch.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000), registry=registry)
        self.scores = Histogram(
            "portrisk_score", "Distribution of risk scores, by mainport.", ["port"], buckets=SCORE_BUCKETS,
            registry=registry)
        self.budget_overruns = Counter(
            "portrisk_budget_overruns_total", "Micro-batches whose model scoring exceeded the latency budget.",
            registry=registry)
        self.degraded = Counter(
            "portrisk_degraded_decisions_total", "Decisions made on the rules-only fallback score, by cause.",
            ["reason"], registry=registry)
        self.threshold = Gauge(
            "portrisk_selection_threshold", "Current model score threshold for a scan, by mainport.", ["port"],
            registry=registry)
        self.capacity = Gauge(
            "portrisk_scan_capacity_per_day", "Configured daily scan capacity, by mainport.", ["port"],
            registry=registry)
        self.expected_arrivals = Gauge(
            "portrisk_expected_arrivals_per_day", "Configured typical daily arrivals, by mainport.", ["port"],
            registry=registry)
        self.lag = Gauge(
            "portrisk_consumer_lag", "Records behind the end of the log, by topic and partition.",
            ["topic", "partition"], registry=registry)
        self.state_entries = Gauge(
            "portrisk_state_entries", "Shipper states held by this worker.", registry=registry)
        self.assigned_partitions = Gauge(
            "portrisk_assigned_partitions", "Input partitions assigned to this worker.", registry=registry)
        self.restore_seconds = Histogram(
            "portrisk_state_restore_seconds", "Time to restore shipper state from the changelog after assignment.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=registry)
        self.restored_entries = Counter(
            "portrisk_state_restored_entries_total", "Shipper states restored from the changelog.", registry=registry)
        self.over_capacity = Counter(
            "portrisk_over_capacity_flags_total",
            "Scans issued while the port's last 24 h of flags already exceeded 1.5x its capacity.", ["port"],
            registry=registry)
        self.rule_reload_errors = Counter(
            "portrisk_rules_reload_errors_total", "Analyst rules files that failed to load (previous rules kept).",
            registry=registry)
        self.rebalances = Counter(
            "portrisk_rebalances_total", "Partition assignments received.", registry=registry)
        self.last_event_time = Gauge(
            "portrisk_last_event_timestamp_seconds", "Event time of the last manifest consumed, by mainport.",
            ["port"], registry=registry)
        self.model = Info("portrisk_model", "The model serving decisions.", registry=registry)

    def declare(self, ports: Iterable[str], *, selections: Iterable[str], dlq_reasons: Iterable[str],
                degraded_reasons: Iterable[str], outcome_results: Iterable[str],
                outcome_selections: Iterable[str]) -> None:
        """Create every known label combination at zero.

        A labelled counter has no series until its first increment, so ``rate()`` misses that increment,
        ratios (hit rate, DLQ share) are empty instead of 0, and a typo in a dashboard cannot be told from
        an event that has not happened yet.
        """
        ports, outcome_selections = tuple(ports), tuple(outcome_selections)
        for port in ports:
            self.events_consumed.labels(port)
            self.scores.labels(port)
            self.over_capacity.labels(port)
            self.decisions.labels(port, "release", "none")
            for selection in selections:
                self.decisions.labels(port, "scan", selection)
            for result in outcome_results:
                for selection in outcome_selections:
                    self.outcomes.labels(port, result, selection)
        for reason in dlq_reasons:
            self.dlq.labels(reason)
        for reason in degraded_reasons:
            self.degraded.labels(reason)


# HTTP requests are answered from SQLite in well under a millisecond, audited ones wait for Kafka's acks.
API_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The HTTP API's metrics (``portrisk serve``). Routes are labelled by template, never by id."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "portrisk_api_requests_total", "HTTP requests, by route template, method and status code.",
            ["route", "method", "status"], registry=registry)
        self.latency = Histogram(
            "portrisk_api_request_latency_seconds", "HTTP request latency, by route template and method.",
            ["route", "method"], buckets=API_BUCKETS, registry=registry)
        self.audit_records = Counter(
            "portrisk_api_audit_records_total", "Audit records written to the audit-log topic, by result.",
            ["result"], registry=registry)
        self.auth_failures = Counter(
            "portrisk_api_auth_failures_total", "Requests refused by access control, by status (401, 403).",
            ["status"], registry=registry)
        self.outcomes_posted = Counter(
            "portrisk_api_outcomes_posted_total", "Inspection outcomes accepted and acknowledged by Kafka, by port.",
            ["port"], registry=registry)
        self.read_model_records = Counter(
            "portrisk_api_read_model_records_total", "Records applied to the read model, by kind.",
            ["kind"], registry=registry)
        self.read_model_lag = Gauge(
            "portrisk_api_read_model_lag", "Records the read model is behind the end of its topics.",
            registry=registry)
        self.read_model_rebuilds = Counter(
            "portrisk_api_read_model_rebuilds_total", "Read model rebuilds from the start of the topics.",
            registry=registry)
