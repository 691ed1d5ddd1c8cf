"""Schemathesis against the served OpenAPI schema, with an admin key: no input produces a server error.

A bounded number of generated requests per operation, each through the real HTTP server, audited on the
real broker. Besides "no 5xx", the responses must match what the schema documents (status codes, content
types, bodies), so the documentation cannot drift from the code.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from api_support import RunningApi, build_test_model, decision, manifest, prepare, publish, running_api
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portrisk.settings import Settings

pytestmark = pytest.mark.kafka
EXAMPLES = 25  # per operation and generation mode: bounded, so the test takes seconds, not minutes
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def served(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    root = tmp_path_factory.mktemp("schemathesis")
    config = Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}.", partitions=3,
                      home=root / "home", model_dir=build_test_model(root / "model"))
    bootstrap, topics, keys = prepare(config)
    events = [manifest(i, port=("rotterdam", "amsterdam")[i % 2]) for i in range(20)]
    publish(bootstrap, topics.risk_scores,
            [(e.container_id.encode(), decision(e, i / 20)) for i, e in enumerate(events)])
    with running_api(config, keys) as running:
        running.wait_ready()
        yield running


def _fuzz(operation: Any, mode: GenerationMode, key: str, checks: list[Any]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode, headers={"X-API-Key": key}))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=checks)

    run()


def test_no_generated_request_gets_a_server_error(served: RunningApi) -> None:
    # The schemathesis pytest plugin's lazy loader does not run on pytest 9, so the operations are driven
    # here with Hypothesis directly: valid requests must also match the documented responses; invalid
    # ones must merely never produce a 5xx.
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10
    for operation in operations:
        for mode, checks in ((GenerationMode.POSITIVE, CONFORMANCE),
                             (GenerationMode.NEGATIVE, [not_a_server_error])):
            try:
                _fuzz(operation, mode, served.keys["admin"], checks)
            except Unsatisfiable:  # nothing to make invalid: no parameters, no body
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # collect every operation's failure, not just the first
                failures[f"{operation.label} ({mode.value})"] = f"{type(exc).__name__}: {exc}"[:2000]

    assert failures == {}, "\n\n".join(f"{k}: {v}" for k, v in failures.items())
    metrics = served.get("/metrics", "operator").text
    served_requests = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                          if line.startswith("portrisk_api_requests_total{"))
    assert served_requests > 10 * len(operations)  # the requests were really made
