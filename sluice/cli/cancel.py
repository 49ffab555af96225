"""``sluice cancel``: stop a running or queued run, wherever it runs."""

from __future__ import annotations

from typing import Annotated

import typer

from sluice.cli.errors import handle_errors
from sluice.cli.options import ProjectOpt
from sluice.cli.terminal import console
from sluice.status import RunStatus


@handle_errors
def cancel(
    run_id: Annotated[str, typer.Argument(help="a run id, or a unique prefix of one")],
    project: ProjectOpt = ".",
    wait: Annotated[float, typer.Option(help="seconds to wait for the run to stop", min=0)] = 10.0,
) -> None:
    """Cancel a running or queued run: its load in progress rolls back, it ends cancelled.

    A run whose process is gone (killed, its machine lost, a Celery run no worker
    took) ends cancelled at once, with what of it had committed.

        sluice cancel 20261124T1831 -p examples/leads
    """
    # Imported here, as in every command: the CLI starts without the engine.
    from sluice.config import load_project
    from sluice.engine.settle import cancel_run
    from sluice.state.store import StateStore

    proj = load_project(project)
    store = StateStore(proj.state_url())
    try:
        status = cancel_run(proj, store, run_id, wait=wait)
        run = store.run(run_id)
    finally:
        store.close()
    name = run.id if run is not None else run_id
    if status == RunStatus.CANCELLING:
        console().print(
            f"run {name}: cancelling (it stops at its next batch; `sluice show {name}`)"
        )
    else:
        console().print(f"run {name}: {status}")
