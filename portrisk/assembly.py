"""Wiring: settings → the worker's components (model, features, scorer, policy, processor).

The one place that knows how the packages fit together, so ``portrisk run``, the demo, the API's what-if
scoring, tests and benchmarks all assemble the decision path the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from portrisk.errors import ModelError
from portrisk.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class DecisionPath:
    """Everything between a decoded event and a decision."""

    pipeline: Any
    scorer: Any
    policy: Any
    explainer: Any | None
    model_version: str
    feature_hash: str
    model_error: str | None


def build_decision_path(settings: Settings, metrics: Any | None = None) -> DecisionPath:
    """Load the model artifact and build the decision path.

    A model that cannot be loaded does not stop the service: the path falls back to the rules-only score
    (every decision marked degraded with reason ``model_unavailable``) and the error is returned so the
    caller can log it and expose it in readiness.
    """
    import numpy as np

    from features.pipeline import FeaturePipeline
    from scoring.budget import BudgetedScorer
    from scoring.fallback import FallbackScorer
    from scoring.policy import SelectionPolicy
    from scoring.reasons import ReasonExplainer
    from scoring.rules import RuleBook
    from scoring.session import ScoringSession

    pipeline = FeaturePipeline.from_model_dir(settings.model_dir)
    session: ScoringSession | None = None
    explainer: ReasonExplainer | None = None
    model_error: str | None = None
    try:
        session = ScoringSession.load(settings.model_dir, pipeline.names)
        # The first runs of a session allocate and page in the trees; do them now, not inside the first
        # micro-batch's latency budget.
        warm = np.zeros((settings.max_batch, len(pipeline.names)), dtype=np.float32)
        for _ in range(3):
            session.score_batch(warm)
        explainer = ReasonExplainer(settings.model_dir, pipeline.reason_texts())
    except ModelError as exc:
        model_error = str(exc)
        log.error("model unavailable; decisions use the rules-only fallback", extra={"error": model_error})
    scorer = BudgetedScorer(
        session.score_batch if session is not None else None, FallbackScorer(),
        batch_budget_s=settings.batch_budget_ms / 1000.0, per_event_budget_s=settings.event_budget_ms / 1000.0)
    on_error = (lambda _exc: metrics.rule_reload_errors.inc()) if metrics is not None else None
    # A broken rules file at start-up fails the deploy loudly; a broken reload keeps the previous rules.
    rulebook = RuleBook(settings.rules_file, on_reload_error=on_error) if settings.rules_file is not None else None
    policy = SelectionPolicy(settings.ports, random_share=settings.random_share, rulebook=rulebook,
                             seed=settings.policy_seed)
    version = session.version if session is not None else "unavailable"
    from scoring.feature_hash import feature_hash

    return DecisionPath(pipeline=pipeline, scorer=scorer, policy=policy, explainer=explainer,
                        model_version=version, feature_hash=feature_hash(pipeline.names), model_error=model_error)


def build_worker(settings: Settings, metrics: Any, path: DecisionPath | None = None) -> Any:
    """A streaming worker for ``settings`` (``portrisk run``, the demo, tests and benchmarks)."""
    from features.state import PartyState
    from portrisk.kafka_env import bootstrap_servers
    from stream.batch import BatchProcessor
    from stream.state_store import PartitionedStore
    from stream.topics import TopicNames
    from stream.worker import Worker, WorkerConfig

    path = path if path is not None else build_decision_path(settings, metrics)
    metrics.model.info({"version": path.model_version, "feature_hash": path.feature_hash,
                        "loaded": "false" if path.model_error else "true"})
    for port in settings.ports:
        metrics.capacity.labels(port.id).set(port.capacity_per_day)
        metrics.expected_arrivals.labels(port.id).set(port.containers_per_day)
    _declare_labels(metrics, settings.port_ids)
    topics = TopicNames.from_settings(settings)
    processor = BatchProcessor(topics=topics, known_ports=settings.port_ids, pipeline=path.pipeline,
                               scorer=path.scorer, policy=path.policy, explainer=path.explainer,
                               model_version=path.model_version, metrics=metrics,
                               reasons_k=settings.reasons_per_decision)
    config = WorkerConfig(bootstrap=bootstrap_servers(settings), topics=topics, group_id=settings.worker_group,
                          max_batch=settings.max_batch)
    return Worker(config, processor, PartitionedStore(PartyState), metrics)


def _declare_labels(metrics: Any, ports: Any) -> None:
    """Zero every label value the worker can produce (the vocabularies live with their owners)."""
    from typing import get_args

    from features.contract import REJECTION_REASONS, InspectionOutcome
    from scoring.budget import ScoreReason
    from scoring.policy import Selection

    outcome_fields = InspectionOutcome.model_fields
    metrics.declare(
        ports, selections=get_args(Selection), dlq_reasons=REJECTION_REASONS,
        degraded_reasons=[r for r in get_args(ScoreReason) if r != "ok"],
        outcome_results=get_args(outcome_fields["result"].annotation),
        # "unknown" is what stream.batch records for an outcome without a selection.
        outcome_selections=[*get_args(get_args(outcome_fields["selection"].annotation)[0]), "unknown"])
