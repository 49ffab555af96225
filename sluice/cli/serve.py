"""``sluice serve``: the REST API (and what plugs into it) in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sluice.cli.errors import handle_errors
from sluice.cli.options import ExecutorOpt, ProjectOpt
from sluice.errors import UsageError
from sluice.extras import require


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
    ssl_certfile: Annotated[
        Path | None,
        typer.Option(
            "--ssl-certfile",
            help="serve https with this certificate (PEM, with its chain); needs --ssl-keyfile",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    ssl_keyfile: Annotated[
        Path | None,
        typer.Option(
            "--ssl-keyfile",
            help="the certificate's private key (PEM)",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Serve the REST API: pipelines, runs, logs, datasets, quarantine (docs at /docs).

    Tokens come from SLUICE_OPERATOR_TOKENS and SLUICE_VIEWER_TOKENS (comma-separated).
    Off loopback, serve https (--ssl-certfile/--ssl-keyfile, or a TLS proxy in front):
    the session cookie is then Secure (SLUICE_SECURE_COOKIES=0/1 decides otherwise).
    Needs the serve extra: pip install 'sluice-etl\\[serve]'.

        SLUICE_OPERATOR_TOKENS=... sluice serve --project examples/leads --port 8000
    """
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise UsageError(
            "--ssl-certfile and --ssl-keyfile go together",
            hint="give both: the certificate and its private key (PEM files)",
        )
    tls = ssl_certfile is not None
    # Before the project loads: FastAPI and uvicorn are the serve extra.
    require("fastapi", "serve", "sluice serve")
    require("uvicorn", "serve", "sluice serve")
    from sluice.config import load_project

    proj = load_project(project)
    # Imported here: FastAPI and uvicorn are not needed by any other command.
    import uvicorn

    from sluice.service import create_app, load_settings

    settings = load_settings(host=host, port=port, dev_open=dev_open, tls=tls)
    app = create_app(proj, settings, executor)
    access = (
        "OPEN: no authentication (--dev-open)"
        if settings.dev_open
        else f"{len(settings.operator_tokens)} operator and "
        f"{len(settings.viewer_tokens)} viewer token(s)"
    )
    runs = executor or proj.executor
    scheme = "https" if tls else "http"
    typer.echo(
        f"sluice serve: {proj.name} on {scheme}://{host}:{port} (docs: /docs); {access}; "
        f"runs: {runs}"
    )
    if not tls and not settings.loopback:
        # Tokens and session cookies would cross the network readable by anyone on it,
        # unless a TLS proxy is in front (then the browser's cookie is Secure: fine).
        typer.echo(
            f"sluice serve: warning: plain HTTP on {host}: tokens and cookies cross the network "
            "in clear unless a TLS proxy is in front; or use --ssl-certfile/--ssl-keyfile",
            err=True,
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
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
    )
