"""A run's life around its work: lease, one run per pipeline, checks, report, end.

:func:`execute` carries out a run's work (a run's loads, a replay) and records how it
ended, whatever happened: its lease is kept fresh meanwhile (``sluice cancel``
arrives through it), the run takes its pipeline first (a part of a Celery run runs
under its run's), the pipeline's steps are compiled and its tables made before
anything is read, and the accounting identity is checked at the end. A part of a
Celery run ends without ending the run: its report goes to the task that sums them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sluice.config import HttpDestinationConfig
from sluice.dburl import redact
from sluice.engine import exclusive
from sluice.engine.context import RunContext
from sluice.engine.kit import RunKit
from sluice.engine.lease import Heartbeat
from sluice.engine.report import RunReport, error_of
from sluice.errors import SluiceError
from sluice.transforms import StepRunner
from sluice.transforms.pii import PiiPlan

#: what a run does once it is going: load (:func:`sluice.engine.run.run`), replay
Work = Callable[[RunKit], None]


def execute(ctx: RunContext, work: Work) -> RunReport:
    """Carry out ``work`` for the run of ``ctx`` and record the run's end (a part of a
    Celery run: only its own). The run's report."""
    start = time.perf_counter()
    what = f"part {ctx.part}" if ctx.part else ctx.kind
    kit = RunKit(ctx)
    # The run's lease, fresh while this goes on; `sluice cancel` arrives through it.
    lease = Heartbeat(ctx.store, ctx.run_id, on_cancel=lambda _: ctx.cancel()).start()
    ctx.log(
        "info", f"{what} of {ctx.name} started", destination=redact(ctx.url), trigger=ctx.trigger
    )
    try:
        if ctx.part is None:  # one run of a pipeline at a time (a part runs under its run)
            exclusive.take(ctx, ctx.kind)
        ctx.check_cancelled()
        _prepare(ctx, kit)
        work(kit)
        ctx.report.check_accounting()
    except SluiceError as exc:
        ctx.report.fail(exc)
        ctx.log("error", str(exc), error=exc.as_dict())
    except Exception as exc:  # a bug: still recorded, never lost
        ctx.report.errors.append(error_of(exc))
        ctx.log("error", f"unexpected {type(exc).__name__}: {exc}")
        raise
    finally:
        lease.stop()
        delivery = kit.delivery_stats()
        if delivery is not None:
            ctx.report.delivery = delivery
        ctx.report.seconds = time.perf_counter() - start
        status = ctx.report.decide_status()
        tot = ctx.report.totals
        ctx.log(
            "info",
            f"{what} finished: {status}",
            status=str(status),
            seconds=round(ctx.report.seconds, 3),
            **{k: getattr(tot, k) for k in ("read", "loaded", "quarantined", "filtered")},
        )
        if ctx.part is None:
            ctx.store.finish_run(ctx.run_id, status, ctx.report.as_dict())
        kit.close()
        if ctx.own_store:
            ctx.store.close()
    return ctx.report


def nothing(kit: RunKit) -> None:
    """No work: a run cancelled while it was queued ends at its first check."""


def prepare(ctx: RunContext) -> None:
    """What a run checks and makes before it reads anything, without loading: the
    Celery plan task makes the tables before its parts load into them at once."""
    kit = RunKit(ctx)
    try:
        _prepare(ctx, kit)
    finally:
        kit.close()


def _prepare(ctx: RunContext, kit: RunKit) -> None:
    for stream in ctx.pipe.sources:
        ctx.report.stream(stream)
    if not isinstance(ctx.pipe.destination, HttpDestinationConfig):
        # A malformed URL is named by where it came from (SLUICE_WAREHOUSE_URL, ...)
        ctx.project.checked_warehouse_url(ctx.pipe)
    # Compile the steps now: a step naming an unknown column fails the run before
    # any file is touched, not file by file.
    StepRunner(ctx.pipe, list(ctx.pipe.table.columns))
    PiiPlan.build(ctx.pipe, {c: c for c in ctx.pipe.table.columns}, ctx.project.pii_salt)
    if ctx.part is None:  # a part of a Celery run: its plan made the tables
        # As the pipeline declares them: a replay of a `replace` pipeline appends, into
        # the same tables.
        kit.tables.make(ctx.pipe.destination.mode)
