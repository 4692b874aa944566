"""Schemathesis against the server's own /openapi.json: requests the document calls valid, and
requests that break its rules, are sent to a real server (secret key for the query API,
public key for ingest and actions); every answer must be no 5xx, a documented status and
content type, and match its schema (error answers: `{error, status}`).

Bounded for the suite: a few examples per operation (FUZZ_EXAMPLES valid ones, half as many
invalid ones), no deadline, no shrinking; one server per store. FUZZ_EXAMPLES=30 digs
deeper. The endless live stream is left out (tests/test_stream.py).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from growthkit.core.clock import now_ms

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
NEGATIVE_EXAMPLES = max(2, EXAMPLES // 2)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
PUBLIC_KEY_PATHS = {"/api/v1/track", "/api/v1/actions/complete"}
NOT_FUZZED = {"/api/v1/stream"}  # an endless response: covered by tests/test_stream.py
HOUR = 3_600_000


@pytest.fixture
def fuzzed(live_server):
    keys = live_server.create_app(rateLimitPerMinute=100_000, initialCredits=10,
                                  actionCosts={"export": 1})
    now = now_ms()
    events = [{"eventName": name, "timestamp": now - i * HOUR, "properties": {"plan": "pro"}}
              for i, name in enumerate(["signup", "page_viewed", "purchase"] * 4)]
    r = live_server.client.post("/api/v1/track", json={"fingerprint": "fp_1", "events": events},
                                headers={"Authorization": f"Bearer {keys.public}"})
    assert r.status_code == 200, r.text
    schema = schemathesis.openapi.from_url(f"{live_server.base_url}/openapi.json")
    return schema, keys


def test_every_documented_operation_answers_as_documented(live_server, fuzzed):
    schema, keys = fuzzed
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 25
    for operation in operations:
        if operation.path in NOT_FUZZED:
            continue
        key = keys.public if operation.path in PUBLIC_KEY_PATHS else keys.secret
        try:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz(operation, mode, live_server.base_url, {"Authorization": f"Bearer {key}"})
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures, at once
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:3000]}")
    assert not failures, "\n\n".join(failures)


def fuzz(operation, mode: GenerationMode, base_url: str,  # noqa: ANN001
         headers: dict[str, str]) -> None:
    """EXAMPLES generated requests of one operation (valid ones, or ones that break the
    document's rules), each answer checked."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES if mode is GenerationMode.POSITIVE else NEGATIVE_EXAMPLES,
              deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case) -> None:  # noqa: ANN001
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise  # an operation with no rule to break has no invalid requests: fine
