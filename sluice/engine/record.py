"""``sluice record``: a pipeline's HTTP traffic saved as a vcrpy cassette.

The run goes into a throwaway warehouse and state store, so recording never touches
real data; the cassette then lets the pipeline (or a test of it) run offline:

    with vcr.use_cassette("cassettes/users.yaml", record_mode="none"):
        sluice.run_pipeline(sluice.load_project("."), "users_staging")
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sluice.config import HttpSourceConfig, Project
from sluice.engine.context import start
from sluice.engine.report import RunReport
from sluice.engine.run import run
from sluice.errors import ConfigError
from sluice.redact import is_secret_name
from sluice.state.store import StateStore
from sluice.status import RunKind

# Secrets stay out of the cassette: these headers and query parameters are not saved.
FILTERED_HEADERS = ["authorization", "x-api-key", "cookie", "set-cookie"]


def record(project: Project, pipeline: str, cassette: Path) -> RunReport:
    """Run ``pipeline`` against its live APIs, saving every exchange to ``cassette``."""
    from sluice.extras import require  # vcrpy (the record extra): only this command needs it

    vcr = require("vcr", "record", "sluice record")

    pipe = project.pipeline(pipeline)
    http = [s for s in pipe.sources.values() if isinstance(s, HttpSourceConfig)]
    if not http:
        raise ConfigError(
            f"pipeline {pipeline!r} has no http source: there is nothing to record",
            hint="record a pipeline whose sources have type: http",
        )
    query_secrets = [
        s.auth.name
        for s in http
        if s.auth is not None and s.auth.type == "api_key" and s.auth.location == "query"
    ]
    # and the source's own key header (whatever its name) and headers named like secrets
    secret_headers = {
        name.lower()
        for s in http
        for name in [
            *(h for h in s.headers if is_secret_name(h)),
            *([s.auth.name] if s.auth is not None and s.auth.type == "api_key" else []),
        ]
        if not (s.auth is not None and s.auth.location == "query" and name == s.auth.name)
    }
    cassette.parent.mkdir(parents=True, exist_ok=True)
    if cassette.exists():
        cassette.unlink()  # a fresh recording, not an append to an old one
    recorder = vcr.VCR(
        record_mode="all",
        match_on=["method", "scheme", "host", "port", "path", "query"],
        filter_headers=sorted({*FILTERED_HEADERS, *secret_headers}),
        filter_query_parameters=query_secrets,
        decode_compressed_response=True,
    )
    with tempfile.TemporaryDirectory(prefix="sluice-record-") as tmp:
        sandbox = project.model_copy(deep=True)
        sandbox._root = project._root
        sandbox.pipeline(pipeline).destination.url = f"sqlite:///{tmp}/warehouse.db"
        store = StateStore(f"sqlite:///{tmp}/state.db")
        try:
            with recorder.use_cassette(str(cassette)):
                return run(start(sandbox, pipeline, store=store, kind=RunKind.RECORD))
        finally:
            store.close()
