"""Property-based: requests generated from the app's own OpenAPI schema never get a 500."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from schemathesis.checks import not_a_server_error

from sluice.config import load_project
from sluice.service import close, create_app
from tests.support.service import OP, settings, wait


def test_no_request_from_the_schema_gets_a_server_error(leads: Path) -> None:
    app = create_app(load_project(leads), settings())
    try:
        from fastapi.testclient import TestClient

        with TestClient(app) as c:  # some data first: runs, rows and quarantine exist
            wait(c, c.post("/api/pipelines/leads/runs", headers=OP).json()["run_id"])
        app = create_app(load_project(leads), settings())
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 14

        for operation in operations:

            @given(case=operation.as_strategy())
            @hsettings(
                max_examples=40,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=OP, checks=[not_a_server_error])

            check()
    finally:
        close(app)
