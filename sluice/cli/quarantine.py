"""``sluice quarantine list|show|replay|discard``: rows and files set aside, and their way back."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sluice.cli.errors import (
    EXIT_OK,
    EXIT_USAGE,
    config_errors,
    handle_errors,
    report_config_errors,
)
from sluice.cli.helptext import Command, Group
from sluice.cli.options import ProgressMode, ProjectOpt
from sluice.cli.runs import AllowQuarantineOpt, JsonOpt, ProgressOpt, dump, exit_code
from sluice.cli.terminal import console, safe
from sluice.errors import UsageError
from sluice.status import QuarantineStatus, QuarantineView

# The engine and Rich's tables are imported by the commands (see sluice.cli.runs).

app = typer.Typer(
    help="Rows and files set aside with their reasons; replay them once fixed.",
    no_args_is_help=True,
    cls=Group,
)


def _entry(e: object) -> dict[str, object]:
    cols = [
        "id",
        "run_id",
        "pipeline",
        "source",
        "kind",
        "unit",
        "line",
        "reasons",
        "payload",
        "file_id",
        "status",
        "replay_run_id",
        "superseded_by",
        "created_at",
    ]
    return {c: getattr(e, c) for c in cols}


STATUSES = tuple(QuarantineView)


@app.command("list", cls=Command)
@handle_errors
def list_(
    project: ProjectOpt = ".",
    pipeline: Annotated[str | None, typer.Option(help="only this pipeline")] = None,
    run: Annotated[str | None, typer.Option("--run", help="only entries of this run")] = None,
    status: Annotated[
        str, typer.Option(help="open, replaying, replayed, superseded, discarded or all")
    ] = "open",
    limit: Annotated[int, typer.Option(help="at most this many")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """List quarantined rows and files with their reasons.

    sluice quarantine list --project examples/leads
    """
    from rich.text import Text

    from sluice.cli.display import rows_table
    from sluice.config import load_project
    from sluice.engine.settle import open_store

    if status not in STATUSES:  # a typo would list nothing and look like good news
        raise UsageError(
            f"--status {status!r} is not a status of an entry",
            hint="one of " + ", ".join(STATUSES),
        )
    store = open_store(load_project(project))  # runs whose process is gone: settled
    which = QuarantineView(status).status
    found = store.quarantined(pipeline, which, run_id=run, limit=limit, replays=True)
    if as_json:
        dump([_entry(e) for e in found])
        return
    rows = [
        (
            e.id,
            e.kind,
            e.source,
            f"{e.unit}:{e.line}" if e.line else e.unit,
            "; ".join(e.reasons),
            # the run id on a line of its own: never wrapped inside
            Text(f"superseded by run\n{e.superseded_by}") if e.superseded_by else e.status,
        )
        for e in found
    ]
    console().print(
        rows_table(
            f"quarantine ({status})", ["id", "kind", "source", "where", "reasons", "status"], rows
        )
    )
    if found and status == QuarantineView.OPEN:
        console().print(
            "what to do about one: [b]sluice quarantine show ID[/] (its hint); once fixed: "
            "[b]sluice quarantine replay[/] (or replay ID ...); to give up on one: "
            "[b]sluice quarantine discard ID[/]",
            soft_wrap=True,
        )


@app.command(cls=Command)
@handle_errors
def show(
    entry_id: Annotated[int, typer.Argument(help="quarantine entry id")],
    project: ProjectOpt = ".",
    as_json: JsonOpt = False,
) -> None:
    """Show one entry: where it came from, every reason, and the raw fields.

    sluice quarantine show 3 --project examples/leads
    """
    from sluice.config import load_project
    from sluice.engine.settle import open_store

    store = open_store(load_project(project))  # runs whose process is gone: settled
    found = store.quarantined(status=None, ids=[entry_id])
    if not found:
        raise UsageError(
            f"no quarantine entry {entry_id}", hint="`sluice quarantine list --status all`"
        )
    e = _entry(found[0])
    if as_json:
        dump(e)
        return
    for k, v in e.items():
        shown = (
            json.dumps(v, indent=2, ensure_ascii=False, default=str)
            if k in ("reasons", "payload")
            else v
        )
        console().print(f"[b]{k}[/]: {safe(shown, lines=k in ('reasons', 'payload'))}")


@app.command(cls=Command)
@handle_errors
def replay(
    ids: Annotated[
        list[int] | None, typer.Argument(help="entry ids; default: every open entry")
    ] = None,
    project: ProjectOpt = ".",
    pipeline: Annotated[str | None, typer.Option(help="only this pipeline")] = None,
    as_json: JsonOpt = False,
    allow_quarantine: AllowQuarantineOpt = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="if a run of the pipeline is going, replay when it ends (else refuse)"
        ),
    ] = False,
    progress: ProgressOpt = ProgressMode.auto,
) -> None:
    """Load quarantined rows and files again with the current config, exactly once.

    What still fails stays in quarantine with its new reasons. Exit codes: 0 all
    replayed, 1 a replay failed, 2 it was refused on the configuration (a table made
    with other column types or keys) or the pipeline is running, 3 entries remain in
    quarantine (0 with --allow-quarantine).

        sluice quarantine replay --project examples/leads
    """
    from sluice.cli.display import summary
    from sluice.cli.progress import watching
    from sluice.config import load_project
    from sluice.engine.replay import replay as replay_entries

    proj = load_project(project)
    with watching(progress, console(stderr=True), [], as_json=as_json) as shown:
        reports = replay_entries(proj, ids=ids, pipeline=pipeline, wait=wait, progress=shown)
    data = [r.as_dict() for r in reports]
    if as_json:
        dump(data)
    elif not data:
        console().print("nothing to replay: no open quarantine entries")
    worst = max(
        (exit_code(r.status, allow_quarantine=allow_quarantine) for r in reports),
        default=EXIT_OK,
    )
    for report, shown_data in zip(reports, data, strict=True):
        if config_errors(report.errors):
            # The user's configuration to fix (a table made with other column types),
            # on stderr and exit 2, as `sluice run` reports it.
            worst = EXIT_USAGE
            if not as_json:
                report_config_errors(report, "sluice quarantine replay")
        elif not as_json:
            console().print(summary(shown_data), soft_wrap=True)
    raise typer.Exit(worst)


@app.command(cls=Command)
@handle_errors
def discard(
    ids: Annotated[list[int], typer.Argument(help="entry ids to give up on")],
    project: ProjectOpt = ".",
) -> None:
    """Mark entries as discarded: they stay on record but are never replayed.

    sluice quarantine discard 1 --project examples/leads
    """
    from sluice.config import load_project
    from sluice.engine.settle import open_store

    store = open_store(load_project(project))  # runs whose process is gone: settled
    found = {e.id for e in store.quarantined(status=QuarantineStatus.OPEN, ids=ids)}
    if missing := set(ids) - found:
        raise UsageError(f"no open quarantine entry with id {sorted(missing)}")
    store.set_quarantine_status(ids, QuarantineStatus.DISCARDED, None)
    console().print(f"discarded {len(ids)} entr{'y' if len(ids) == 1 else 'ies'}")
