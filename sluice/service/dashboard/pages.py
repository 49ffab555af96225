"""The dashboard's pages (GET): each handler gathers with :mod:`.data`, a template shows it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.responses import Response

from sluice.config import PipelineConfig, Project
from sluice.errors import NotFound
from sluice.service.dashboard import charts, data
from sluice.service.dashboard.access import PageViewer, page_context, safe_next, signed_in
from sluice.service.dashboard.templating import STATIC, render, stylesheet, templates
from sluice.service.deps import ExecutorDep, ProjectDep, SchedulerDep, StoreDep
from sluice.service.params import PathName, QueryName
from sluice.status import QuarantineView

router = APIRouter(include_in_schema=False)
#: the vendored assets; nothing else under static/ is served
ASSETS = {
    "htmx.min.js": "text/javascript",
    "dashboard.css": "text/css",
    # the API docs' (sluice.service.docs)
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "swagger-favicon-32x32.png": "image/png",
    "redoc.standalone.js": "text/javascript",
}
#: the statuses of a quarantine entry, and ``all``: the page's filter offers each of them
#: (``superseded``: closed because a later run loaded the same content)
QUARANTINE_STATUSES: tuple[QuarantineView, ...] = tuple(QuarantineView)
#: the furthest a page may start (an offset the database takes: a signed 64-bit integer)
MAX_OFFSET = 2**63 - 1


@router.get("/static/{path}", name="dashboard-static")
def static(path: str) -> FileResponse:
    if path not in ASSETS:
        raise NotFound(f"no asset {path!r}")
    return FileResponse(
        STATIC / path, media_type=ASSETS[path], headers={"Cache-Control": "max-age=3600"}
    )


@router.get("/signin", name="dashboard-signin")
def signin_page(request: Request, next: str | None = None) -> HTMLResponse:
    ctx = page_context(request, None, next=safe_next(next, "/"), error=None)
    if signed_in(request) is not None:
        ctx["flash"] = "you are signed in; signing in again replaces the session"
    return render(request, "signin.html", ctx)


@router.get("/", name="dashboard-overview")
def overview(
    request: Request, who: PageViewer, project: ProjectDep, store: StoreDep, scheduler: SchedulerDep
) -> HTMLResponse:
    found = data.pipelines(project, store, scheduler)
    return render(request, "overview.html", page_context(request, who, pipelines=found))


@router.get("/pipelines/{name}", name="dashboard-pipeline")
def pipeline(
    request: Request, name: PathName, who: PageViewer, project: ProjectDep, store: StoreDep
) -> HTMLResponse:
    pipe = _pipeline(project, name)
    runs = data.history(store, name, limit=30)
    labels = [f"{r['id']} ({r['status']})" for r in runs]
    colors = [charts.status_color(r["status"]) for r in runs]
    ticks = [r["started_at"].strftime("%H:%M") for r in runs]
    ctx = page_context(
        request,
        who,
        name=name,
        table=pipe.table.name,
        runs=runs,
        rows_chart=charts.bar_chart(
            labels,
            [r["loaded"] for r in runs],
            title="rows loaded per run",
            colors=colors,
            ticks=ticks,
        ),
        seconds_chart=charts.bar_chart(
            labels, [r["seconds"] for r in runs], title="duration per run", unit=" s", ticks=ticks
        ),
    )
    return render(request, "pipeline.html", ctx)


def _pipeline(project: Project, name: str) -> PipelineConfig:
    if name not in project.pipelines:
        raise NotFound(f"no pipeline named {name!r}", hint="the pipelines page lists them")
    return project.pipelines[name]


def _detail(store: StoreDep, executor: ExecutorDep, run_id: str) -> data.RunDetail:
    found = data.run_detail(store, run_id, executor.live_report)
    if found is None:
        raise NotFound(f"no run {run_id!r}", hint="the pipelines page lists recent runs")
    return found


@router.get("/runs/{run_id}", name="dashboard-run")
def run(
    request: Request, run_id: PathName, who: PageViewer, store: StoreDep, executor: ExecutorDep
) -> HTMLResponse:
    d = _detail(store, executor, run_id)
    log = data.log_tail(store, d["run"]["id"])
    return render(request, "run.html", page_context(request, who, d=d, log=log))


@router.get("/runs/{run_id}/live", name="dashboard-run-live")
def run_live(
    request: Request, run_id: PathName, who: PageViewer, store: StoreDep, executor: ExecutorDep
) -> HTMLResponse:
    """The part of the run page htmx polls while the run goes (without polling once done)."""
    d = _detail(store, executor, run_id)
    log = data.log_tail(store, d["run"]["id"])
    return render(request, "_run_live.html", page_context(request, who, d=d, log=log))


@router.get("/runs/{run_id}/report.html", name="dashboard-run-report")
def run_report(
    request: Request, run_id: PathName, who: PageViewer, store: StoreDep, executor: ExecutorDep
) -> Response:
    """The run's report as one standalone HTML file: inline CSS, no external assets."""
    d = _detail(store, executor, run_id)
    html = templates.get_template("report_download.html").render(
        page_context(
            request,
            who,
            d=d,
            log=data.log_tail(store, d["run"]["id"], limit=1000),
            css=stylesheet(),
            generated_at=datetime.now(UTC),
        )
    )
    filename = f"sluice-run-{d['run']['id']}.html"
    return HTMLResponse(html, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/quarantine", name="dashboard-quarantine")
def quarantine(
    request: Request,
    who: PageViewer,
    project: ProjectDep,
    store: StoreDep,
    pipeline: QueryName = None,
    status: QuarantineView = QuarantineView.OPEN,
    run: QueryName = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> HTMLResponse:
    pipeline = pipeline or None
    which = status.status
    total, entries = data.quarantine(store, pipeline, which, run, limit, offset)
    ctx = page_context(
        request,
        who,
        entries=entries,
        total=total,
        first=offset + 1 if entries else 0,
        last=offset + len(entries),
        pages=_pages(request, total, limit, offset),
        pipelines=list(project.pipelines),
        pipeline=pipeline,
        status=status,
        statuses=QUARANTINE_STATUSES,
        run=run,
    )
    return render(request, "quarantine.html", ctx)


def _pages(request: Request, total: int, limit: int, offset: int) -> dict[str, str | None]:
    """Links to the newest, newer, older and oldest pages (None: there is none)."""

    def at(start: int) -> str:
        query = {k: v for k, v in request.query_params.items() if k not in ("offset", "flash")}
        return f"{request.url.path}?{urlencode({**query, 'offset': start})}"

    oldest = max(total - 1, 0) // limit * limit
    return {
        "newest": at(0) if offset > 0 else None,
        "newer": at(max(offset - limit, 0)) if offset > 0 else None,
        "older": at(offset + limit) if offset + limit < total else None,
        "oldest": at(oldest) if offset + limit < total else None,
    }


@router.get("/pipelines/{name}/data", name="dashboard-dataset")
def dataset(
    request: Request,
    name: str,
    who: PageViewer,
    project: ProjectDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> HTMLResponse:
    _pipeline(project, name)
    found = data.dataset(project, name, limit, request.app.state.warehouses)
    return render(
        request, "dataset.html", page_context(request, who, name=name, data=found, limit=limit)
    )
