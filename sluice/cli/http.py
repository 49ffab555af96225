"""``sluice record`` and ``sluice audit``: a pipeline's HTTP calls kept for offline runs,
and the proof that a run delivered every key to its http destination exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sluice.cli.errors import EXIT_FAILED, EXIT_OK, handle_errors
from sluice.cli.options import ProjectOpt
from sluice.cli.runs import JsonOpt, dump
from sluice.cli.terminal import console, safe


@handle_errors
def record(
    pipeline: Annotated[str, typer.Argument(help="name of a pipeline with http sources")],
    project: ProjectOpt = ".",
    cassette: Annotated[
        str | None,
        typer.Option(help="where to write it (default: cassettes/PIPELINE.yaml in the project)"),
    ] = None,
) -> None:
    """Record a pipeline's HTTP calls into a vcrpy cassette, to run it offline later.

    The run loads into a throwaway warehouse; auth headers are not saved. Needs the
    record extra: pip install 'sluice-etl\\[record]'.

        sluice record users_staging --project examples/users_staging
    """
    from sluice.config import load_project
    from sluice.engine.record import record as record_pipeline

    proj = load_project(project)
    path = Path(cassette) if cassette else proj.root / "cassettes" / f"{pipeline}.yaml"
    report = record_pipeline(proj, pipeline, path)
    totals = report.totals
    console().print(
        f"recorded {pipeline} into {path}: {report.status}, read {totals.read}, "
        f"{sum(s.http['requests'] for s in report.streams.values() if s.http)} requests"
    )
    if report.errors:
        for e in report.errors:
            console(stderr=True).print(f"error: {safe(e['message'])}")
        raise typer.Exit(EXIT_FAILED)


@handle_errors
def audit(
    run_id: Annotated[str, typer.Argument(help="a run id (a unique prefix works)")],
    project: ProjectOpt = ".",
    as_json: JsonOpt = False,
) -> None:
    """Prove a run delivered every key to its http destination exactly once.

    Exit code 0 when it did; 1 when a key is missing, in doubt or delivered twice.

        sluice audit 20261127T0409 --project examples/animals
    """
    from sluice.config import load_project
    from sluice.engine.inspect.audit import audit as audit_run
    from sluice.engine.settle import open_store

    proj = load_project(project)
    store = open_store(proj)  # runs whose process is gone: settled
    try:
        result = audit_run(store, run_id)
    finally:
        store.close()
    if as_json:
        dump(result.as_dict())
    else:
        verdict = "[green]ok[/]" if result.ok else "[red]NOT ok[/]"
        console().print(
            f"audit of run {result.run_id} ({result.pipeline} -> {result.target}): {verdict}\n"
            f"  {result.keys:,} keys to deliver: "
            f"{result.delivered_now + result.delivered_before:,} delivered exactly once "
            f"({result.delivered_now:,} in this run, {result.delivered_before:,} before), "
            f"{len(result.rejected):,} refused by the target (in quarantine)"
        )
        for label, keys in (
            ("never acknowledged", result.missing),
            ("sent, answer never recorded (in doubt)", result.in_doubt),
            ("acknowledged more than once", list(result.duplicated)),
            (
                "sent again after a crash left them in doubt (the target may have them twice)",
                result.resent,
            ),
        ):
            if keys:
                shown = safe(", ".join(keys[:20]) + (" ..." if len(keys) > 20 else ""))
                console().print(f"  [red]{len(keys):,} {label}:[/] {shown}")
        if result.missing or result.in_doubt:
            console().print("  hint: run the pipeline again to send what was not acknowledged")
    raise typer.Exit(EXIT_OK if result.ok else EXIT_FAILED)
