"""Shared fixtures: a fresh PostgreSQL schema per test, and project folders in tmp_path.

Tests that need PostgreSQL skip with a reason when it is not reachable, and fail
instead when SLUICE_REQUIRE_SERVICES=1 (as `.ci/run` sets).
"""

from __future__ import annotations

import os
import sqlite3
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from sluice.testing import copy_example

# Fixtures shared by several folders, one module per need (tests/support/).
pytest_plugins = [
    "tests.support.browser",
    "tests.support.service",
    "tests.support.sims",
    "tests.support.warehouses",
]

PG_BASE = os.environ.get("SLUICE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _service_missing(reason: str) -> None:
    if os.environ.get("SLUICE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (SLUICE_REQUIRE_SERVICES=1, so this is a failure)")
    pytest.skip(reason)


def _lease_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "sluice-lease" and t.is_alive()}


@pytest.fixture(autouse=True)
def no_lease_left_beating() -> Iterator[None]:
    """Every test stops the executors it made: a lease thread left beating writes to a
    state store whose schema its fixtures have dropped ("run lease not refreshed:
    relation sluice_runs does not exist" in the middle of the output) and costs CPU
    for the rest of the session."""
    before = _lease_threads()
    yield
    left = _lease_threads() - before
    assert not left, (
        f"{len(left)} lease thread(s) left beating: shut down what the test made "
        "(executor.shutdown(), sluice.service.close(app))"
    )


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[object]:
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(PG_BASE, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _service_missing(f"PostgreSQL not reachable at {PG_BASE}: {exc}")
    yield conn
    conn.close()


@pytest.fixture
def pg_url(pg_admin: object) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    pg_admin.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[attr-defined]
    yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    pg_admin.execute(f'DROP SCHEMA "{schema}" CASCADE')  # type: ignore[attr-defined]


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A URL of a fresh MySQL/MariaDB database, dropped after the test.

    ``SLUICE_TEST_MYSQL`` (default ``mysql://root@127.0.0.1:3306/test``) gives the
    server and a user allowed to create databases.
    """
    pymysql = pytest.importorskip("pymysql")
    from sqlalchemy.engine import make_url

    base = make_url(os.environ.get("SLUICE_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"))
    try:
        admin = pymysql.connect(
            host=base.host or "127.0.0.1",
            port=base.port or 3306,
            user=base.username or "root",
            password=base.password or "",
            connect_timeout=3,
            autocommit=True,
        )
    except pymysql.err.Error as exc:
        _service_missing(f"MySQL/MariaDB not reachable at {base.host}:{base.port}: {exc}")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with closing(admin):
        admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.ping()
            admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")


def warehouse_url(request: pytest.FixtureRequest, dialect: str, folder: Path) -> str:
    """A fresh, empty warehouse of ``dialect`` (sqlite, postgresql, mysql, duckdb)."""
    if dialect == "sqlite":
        return f"sqlite:///{folder / 'w.db'}"
    if dialect == "duckdb":
        return f"duckdb:///{folder / 'w.duckdb'}"
    return str(request.getfixturevalue("mysql_url" if dialect == "mysql" else "pg_url"))


@pytest.fixture
def unset_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    """SLUICE_WAREHOUSE_URL and SLUICE_STATE_URL unset: the project's sluice.yaml says
    where it loads and keeps its state, whatever the shell or CI running the tests set."""
    monkeypatch.delenv("SLUICE_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)


@pytest.fixture
def pg_schema(pg_url: str) -> str:
    return pg_url.rsplit("%3D", 1)[1]


@pytest.fixture
def leads(tmp_path: Path, unset_urls: None) -> Path:
    """A fresh copy of examples/leads (no state, no warehouse) in the test's folder."""
    return copy_example("leads", tmp_path / "leads")


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """Write a sluice.yaml (and data files) into tmp_path; return the folder."""

    def make(yaml_text: str, files: dict[str, str | bytes] | None = None) -> Path:
        (tmp_path / "sluice.yaml").write_text(textwrap.dedent(yaml_text), encoding="utf-8")
        for name, content in (files or {}).items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return tmp_path

    return make


class Outcome:
    """A finished run of a project in tmp_path: its report, table rows and quarantine."""

    def __init__(self, project: Any, pipeline: str, report: Any) -> None:
        self.project, self.pipeline, self.report = project, pipeline, report

    @property
    def status(self) -> str:
        return str(self.report.status)

    def counts(self, stream: str) -> Any:
        return self.report.streams[stream].counts

    def stream(self, stream: str) -> dict[str, Any]:
        return dict(self.report.as_dict()["streams"][stream])

    def warehouse(self) -> Path:
        url = self.project.warehouse_url(self.project.pipeline(self.pipeline))
        assert url.startswith("sqlite:///"), url
        return Path(url[len("sqlite:///") :])

    def rows(self, table: str | None = None, order_by: str = "rowid") -> list[dict[str, Any]]:
        table = table or self.project.pipeline(self.pipeline).table.name
        with closing(sqlite3.connect(self.warehouse())) as conn:
            conn.row_factory = sqlite3.Row
            cur = conn.execute(f'SELECT * FROM "{table}" ORDER BY {order_by}')
            return [dict(r) for r in cur.fetchall()]

    def table_columns(self, table: str | None = None) -> list[str]:
        table = table or self.project.pipeline(self.pipeline).table.name
        with closing(sqlite3.connect(self.warehouse())) as conn:
            return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]

    def quarantine(self, kind: str | None = None) -> list[Any]:
        from sluice.state.store import StateStore

        store = StateStore(self.project.state_url())
        try:
            entries = store.quarantined(pipeline=self.pipeline, run_id=self.report.run_id)
        finally:
            store.close()
        return [e for e in entries if kind is None or e.kind == kind]


@pytest.fixture
def capture() -> Iterator[Any]:
    """A started :class:`sluice.testing.Capture`: a loopback webhook that keeps every
    request (200 ok unless told otherwise with ``capture.answer``)."""
    from sluice.testing import Capture

    with Capture() as server:
        yield server


@pytest.fixture
def run_project() -> Callable[..., Outcome]:
    """Load the project in a folder and run one pipeline: ``run_project(path, "p")``."""

    def run(path: Path, pipeline: str = "p", **kwargs: Any) -> Outcome:
        from sluice.config import load_project
        from sluice.engine import run_pipeline

        project = load_project(path)
        return Outcome(project, pipeline, run_pipeline(project, pipeline, **kwargs))

    return run
