"""The quarantine page is counted and paged in the state store; the overview counts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from sluice.state.quarantine import NewEntry
from sluice.status import EntryKind, QuarantineStatus
from tests.support.service import VIEWER

ENTRIES = 450


def _fill(client: TestClient) -> list[int]:
    """``ENTRIES`` open row entries of pipeline leads (and 5 discarded ones); their ids."""
    store = client.app.state.store  # type: ignore[attr-defined]
    run_id = store.start_run("leads")
    rows = [
        NewEntry(
            run_id=run_id,
            pipeline="leads",
            source="source1",
            kind=EntryKind.ROW,
            unit="data/source1/a.csv",
            line=i + 2,
            reasons=[f"zip: 'z{i}' does not match ^\\d{{5}}$"],
            payload={"zip": f"z{i}"},
            file_id=None,
            status=QuarantineStatus.OPEN if i < ENTRIES else QuarantineStatus.DISCARDED,
        )
        for i in range(ENTRIES + 5)
    ]
    store.quarantine(rows)
    found = store.quarantined("leads", "open")
    return [e.id for e in found]


@contextmanager
def _statements(client: TestClient) -> Iterator[list[str]]:
    """The SQL statements the state store runs meanwhile that read the quarantine."""
    engine = client.app.state.store.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "sluice_quarantine" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def _entries(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-entry="(\d+)"', page)]


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return unescape(found.group(1)) if found else None


def test_the_quarantine_page_shows_the_count_and_a_page_with_links(client: TestClient) -> None:
    ids = _fill(client)
    client.post("/signin", data={"token": VIEWER, "next": "/"})
    with _statements(client) as sql:
        first = client.get("/quarantine", params={"pipeline": "leads", "limit": 200})
    assert first.status_code == 200
    # counted and paged by the database, not by loading every entry
    assert sql and all("count(" in q.lower() or "LIMIT" in q for q in sql), sql
    page = first.text
    assert "entries 1 to 200 of 450, newest first" in page
    assert _entries(page) == sorted(ids, reverse=True)[:200]
    assert _link(page, "prev") is None and _link(page, "first") is None
    older = _link(page, "next")
    assert older is not None and "offset=200" in older and "pipeline=leads" in older
    second = client.get(older).text
    assert "entries 201 to 400 of 450" in second
    assert _entries(second) == sorted(ids, reverse=True)[200:400]
    newer = _link(second, "prev")
    assert newer is not None and _entries(client.get(newer).text) == _entries(page)
    oldest = _link(page, "last")
    assert oldest is not None and "offset=400" in oldest
    last = client.get(oldest).text
    assert "entries 401 to 450 of 450" in last and _entries(last) == sorted(ids, reverse=True)[400:]
    assert _link(last, "next") is None and _link(last, "last") is None
    # the filter counts too: the five discarded entries
    closed = client.get("/quarantine", params={"pipeline": "leads", "status": "discarded"}).text
    assert "entries 1 to 5 of 5" in closed and len(_entries(closed)) == 5
    assert 'id="quarantine-pages"' not in closed


def test_the_overview_counts_open_entries(client: TestClient) -> None:
    _fill(client)
    client.post("/signin", data={"token": VIEWER, "next": "/"})
    with _statements(client) as sql:
        overview = client.get("/").text
    assert f"{ENTRIES} open</a>" in overview
    assert sql and all("count(" in q.lower() for q in sql), sql  # no entry is loaded
