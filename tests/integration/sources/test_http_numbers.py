"""An API's numbers reach the table as the API wrote them, not through a float."""

from __future__ import annotations

from decimal import Decimal

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from sluice.sim.server import SimServer

#: money with more digits than a float holds, a fraction with its trailing zero, an
#: exponent, and an integer past 2**53
BODY = (
    b'{"data": [{"id": 1, "amount": 12345678901234567.89, "rate": 1.50, "big": 9007199254740993},'
    b' {"id": 2, "amount": 0.1, "rate": 2.5e3, "big": 1}]}'
)


def test_numbers_from_an_api_keep_the_digits_written(make_project, run_project) -> None:
    app = Starlette(
        routes=[Route("/items", lambda _: Response(BODY, media_type="application/json"))]
    )
    with SimServer(app) as server:
        root = make_project(
            f"""
pipelines:
  p:
    sources:
      s:
        type: http
        base_url: {server.url}
        endpoint: /items
        records: data
    table:
      name: t
      columns:
        id: integer
        amount: string
        rate: string
        big: integer
"""
        )
        out = run_project(root)
    assert out.status == "succeeded", [e.reasons for e in out.quarantine("row")]
    rows = sorted(out.rows(), key=lambda r: r["id"])
    # through a float, 12345678901234567.89 was "1.2345678901234568e+16" (SQLite keeps
    # 15 digits of a decimal column and says so: text here; a decimal column elsewhere)
    assert [Decimal(r["amount"]) for r in rows] == [Decimal("12345678901234567.89"), Decimal("0.1")]
    assert [r["rate"] for r in rows] == ["1.50", "2.5e3"]
    assert rows[0]["big"] == 9007199254740993
