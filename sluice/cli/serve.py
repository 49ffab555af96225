"""``sluice serve``: the REST API (and what plugs into it) in the foreground."""

from __future__ import annotations

from typing import Annotated

import typer

from sluice.cli.errors import handle_errors
from sluice.cli.options import ExecutorOpt, ProjectOpt
from sluice.config import load_project


@handle_errors
def serve(
    project: ProjectOpt = ".",
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    dev_open: Annotated[
        bool,
        typer.Option("--dev-open", help="no authentication (development, loopback host only)"),
    ] = False,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="log every request to stderr")
    ] = False,
    executor: ExecutorOpt = None,
) -> None:
    """Serve the REST API: pipelines, runs, logs, datasets, quarantine (docs at /docs).

    Tokens come from SLUICE_OPERATOR_TOKENS and SLUICE_VIEWER_TOKENS (comma-separated).

        SLUICE_OPERATOR_TOKENS=... sluice serve --project examples/leads --port 8000
    """
    proj = load_project(project)
    # Imported here: FastAPI and uvicorn are not needed by any other command.
    import uvicorn

    from sluice.service import create_app, load_settings

    settings = load_settings(host=host, port=port, dev_open=dev_open)
    app = create_app(proj, settings, executor)
    access = (
        "OPEN: no authentication (--dev-open)"
        if settings.dev_open
        else f"{len(settings.operator_tokens)} operator and "
        f"{len(settings.viewer_tokens)} viewer token(s)"
    )
    runs = executor or proj.executor
    typer.echo(
        f"sluice serve: {proj.name} on http://{host}:{port} (docs: /docs); {access}; runs: {runs}"
    )
    # Runs have their own log (the API, the dashboard); a line per request is opt-in:
    # it costs the server a tenth of its throughput under load.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
        timeout_graceful_shutdown=5,
    )
