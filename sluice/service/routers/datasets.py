"""The latest rows of a pipeline's table, as JSON or CSV, a page at a time.

CSV with ``csv_guard=true`` is safe to open in a spreadsheet: a text value starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (which Excel, LibreOffice
and Google Sheets take for a formula: ``=HYPERLINK(...)``, ``=cmd|...``) gets a ``'``
in front (OWASP's advice), so it is shown as text. Numbers (a negative amount) are
never changed. The dashboard's download link asks for it; the API's default stays the
raw values, for programs that read the CSV back.
"""

from __future__ import annotations

import csv
import io
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sluice.engine.inspect.datasets import latest_rows
from sluice.service.auth import Viewer
from sluice.service.deps import ProjectDep, WarehousesDep
from sluice.service.schemas import Dataset, ErrorBody

router = APIRouter(prefix="/datasets", tags=["datasets"])
#: what a spreadsheet takes for the start of a formula (OWASP: CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value``, with a ``'`` in front if it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@router.get(
    "/{pipeline}",
    responses={
        200: {"content": {"text/csv": {}}},
        400: {"model": ErrorBody},
        404: {"model": ErrorBody},
    },
    response_model=Dataset,
)
async def get_dataset(
    pipeline: str,
    _: Viewer,
    project: ProjectDep,
    warehouses: WarehousesDep,
    table: Annotated[
        str | None, Query(description="a table of the pipeline's layout (default: its table)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
    format: Literal["json", "csv"] = "json",
    csv_guard: Annotated[
        bool,
        Query(description="CSV for a spreadsheet: text starting with = + - @ gets a ' first"),
    ] = False,
) -> Any:
    """Rows of the pipeline's table; for snapshot pipelines its ``_latest`` view.

    The table is chosen among those the pipeline's config names, never taken as SQL.
    """

    # The query waits in a thread, the encoding runs on the loop (see list_runs);
    # repeats are answered by the micro-cache in front.
    found = await run_in_threadpool(
        partial(latest_rows, limit=limit, offset=offset, warehouses=warehouses),
        project,
        pipeline,
        table,
    )
    if format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        if csv_guard:
            writer.writerow([spreadsheet_safe(c) for c in found.columns])
            writer.writerows([spreadsheet_safe(v) for v in row] for row in found.rows)
        else:
            writer.writerow(found.columns)
            writer.writerows(found.rows)
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
    doc = Dataset(
        pipeline=pipeline,
        table=table or found.relation.removesuffix("_latest"),
        relation=found.relation,
        columns=found.columns,
        rows=[dict(zip(found.columns, r, strict=True)) for r in found.rows],
        limit=limit,
        offset=offset,
    )
    return Response(doc.model_dump_json(), media_type="application/json")
