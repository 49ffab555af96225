"""The Celery executor: runs are queued for ``sluice worker`` processes, anywhere.

``sluice run`` (with ``executor: celery``) and ``sluice serve`` record the run in the
shared state store and queue its plan (:mod:`sluice.executors.celery_app`); workers do
the rest. Everything about a run (status, log, parts, the final report) is in the
state store, so any process that can read it can follow the run: the CLI waits for
it there, the service answers from it and tells its hooks (alerts, metrics) when a
run it queued ends. Replays stay in this process: they are small, and they read the
quarantine this process can reach.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sluice.config import Project
from sluice.dburl import redact
from sluice.engine.lease import Heartbeat
from sluice.engine.report import final_report
from sluice.engine.settle import settle_stale
from sluice.errors import ConfigError, NotFound, RunConflict
from sluice.executors.base import Submitted, submit_via
from sluice.executors.celery_app import (
    broker_url,
    cancelled,
    check_shared_state,
    end_run,
    make_app,
    queue_name,
)
from sluice.executors.hooks import RunHooks
from sluice.state.parts import WHOLE_RUN, PartsTally, RunParts
from sluice.state.store import StateStore
from sluice.status import LIVE, RunStatus

if TYPE_CHECKING:
    from sluice.executors.local import LocalExecutor

HOOK_POLL_SECONDS = 1.0
#: how often ``wait`` looks at the run's status (one small query) once no part of the
#: run waits to start: the waiter sees the run's end within this, not within the
#: progress interval. While parts wait, the end is at least a part away, and it looks
#: every ``poll`` (looking 20 times a second for a whole run cost the waiter 2.0-2.4
#: CPU-s of a 30-32 s run on the Celery bench, against 1.2-1.4 now).
END_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class StreamProgress:
    """A stream of a run on the workers, as far as the state store tells it while the
    run goes: which of its parts ended; the rows read by those that ended (a part adds
    its rows to the run's stages as it ends) and by those running (each tells its own
    about once a second); the bytes read (a part that ended counts its size) and the
    stream's size, when every part's is known."""

    stream: str
    stage: str  # queued (no part started), load (parts going), done, failed
    rows: int
    parts_ended: int
    parts: int
    read: int = 0
    size: int | None = None
    queued: int = 0  # parts not started yet


@dataclass(frozen=True)
class RunProgress:
    """How a run on the workers stands: its status (``queued`` while another run of
    its pipeline goes) and its streams that have parts."""

    status: str
    streams: list[StreamProgress]


def _stage(t: PartsTally) -> str:
    if t.ended == t.parts:
        return "failed" if t.failed else "done"
    return "load" if t.running or t.ended else "queued"


class CeleryExecutor:
    """The same calls as :class:`~sluice.executors.local.LocalExecutor`, on Celery."""

    def __init__(self, project: Project, store: StateStore, hooks: RunHooks | None = None) -> None:
        check_shared_state(store.url)
        self.project, self.store = project, store
        self.hooks = hooks or RunHooks()
        self.app = make_app()
        self.queue = queue_name()
        self.on_submit: Callable[[], None] = lambda: None
        self._mine: dict[str, str] = {}  # run id -> pipeline, queued here, not yet ended
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._local: LocalExecutor | None = None  # see `local`

    @property
    def local(self) -> LocalExecutor:
        """Replays and live reports, in this process: made when first asked for (the
        local executor brings the engine, which queuing a run does not need)."""
        with self._lock:  # once, whichever of the service's threads asks first
            if self._local is None:
                from sluice.executors.local import LocalExecutor

                self._local = LocalExecutor(self.project, self.store, self.hooks, processes=False)
            return self._local

    # ------------------------------------------------------------------ submitting

    def trigger(
        self,
        pipeline: str,
        by: str = "api",
        *,
        file: str | None = None,
        source: str | None = None,
        full_refresh: bool = False,
    ) -> Submitted:
        """Queue a run of ``pipeline``; its run id exists on return."""
        pipe = self.project.pipeline(pipeline)
        settle_stale(self.project, self.store)  # a run no one carries out refuses none
        going = self.running(pipeline)
        if going is not None and pipe.if_running == "reject":
            raise RunConflict(
                f"pipeline {pipeline!r} is running (run {going})",
                hint="wait for it to finish or cancel it; or set `if_running: queue`",
            )
        run_id = self.store.start_run(pipeline, host="celery")
        status = RunStatus.QUEUED if going is not None else RunStatus.RUNNING
        if going is not None:
            self.store.set_run_status(run_id, RunStatus.QUEUED)
        self.store.log(
            run_id,
            "info",
            f"run of {pipeline} queued for celery workers",
            trigger=by,
            queue=self.queue,
        )
        self.on_submit()
        try:
            self.app.send_task(
                "sluice.plan",
                args=[run_id, pipeline, self.project.name, file, source, full_refresh],
                queue=self.queue,
                retry_policy={"max_retries": 2, "interval_start": 0.5, "interval_step": 1},
            )
        except Exception as exc:  # kombu's errors: the broker is down or refuses us
            err = ConfigError(
                f"cannot queue the run on the broker {redact(broker_url())}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                hint="check that the broker runs and SLUICE_BROKER_URL points at it; "
                "workers must use the same one",
            )
            end_run(self.store, run_id, pipeline, RunStatus.FAILED, err)
            raise err from None
        with self._lock:
            self._mine[run_id] = pipeline
        return Submitted(run_id, pipeline, status)

    def submit(self, pipeline: str, by: str) -> str | None:
        return submit_via(self.trigger, pipeline, by)

    def replay(
        self, *, ids: Sequence[int] | None = None, pipeline: str | None = None
    ) -> list[Submitted]:
        return self.local.replay(ids=ids, pipeline=pipeline)

    # ------------------------------------------------------------------ inspecting

    def running(self, pipeline: str) -> str | None:
        """The run id of a live run of ``pipeline`` (on any worker), if any."""
        live = [r for r in self.store.runs(pipeline, 50) if r.status in LIVE]
        return live[-1].id if live else None  # the oldest: the one going

    def is_active(self, run_id: str) -> bool:
        run = self.store.run(run_id)
        return run is not None and run.status in LIVE

    def live_report(self, run_id: str) -> dict[str, Any] | None:
        return self.local.live_report(run_id)  # a worker's progress is in the store

    def progress(self, run_id: str, pipeline: str) -> list[StreamProgress]:
        """Each stream of the run that has parts (none before the run is planned): one
        small query. A part of the whole run (``mode: replace``, ``--file``) counts
        for every stream of the pipeline (its rows while it runs, told for them all
        together, only when the pipeline has one)."""
        tallies, rows = RunParts(self.store).by_stream(run_id)
        if not tallies:
            return []
        whole = tallies.pop(WHOLE_RUN, None)
        if whole is not None:
            pipe = self.project.pipelines.get(pipeline)
            streams = list(pipe.sources) if pipe is not None else []
            if len(streams) > 1:
                whole = replace(whole, rows=0)
            for stream in streams:
                tallies.setdefault(stream, whole)
        return [
            StreamProgress(
                name,
                _stage(t),
                rows.get(name, 0) + t.rows,
                t.ended,
                t.parts,
                t.read,
                t.size,
                t.parts - t.ended - t.running,
            )
            for name, t in tallies.items()
        ]

    def wait(
        self,
        run_id: str,
        on_progress: Callable[[RunProgress], None] | None = None,
        poll: float = 0.5,
    ) -> dict[str, Any]:
        """Wait for the run to end; its report (within :data:`END_POLL_SECONDS` of its
        end). ``on_progress``: told how the run and its streams stand (:meth:`progress`)
        every ``poll`` seconds, and once more as the run ends.

        While it waits, it holds the run's lease: a run queued with no worker alive
        whose waiter is gone too is settled, not left ``running`` for ever."""
        told = -poll  # the first look tells
        closing = True  # no part waits to start (or none is planned yet)
        with Heartbeat(self.store, run_id):
            while True:
                run = self.store.run(run_id)
                if run is None:  # never there, or pruned meanwhile
                    raise NotFound(
                        f"run {run_id} is not in the state store (it may have been pruned)",
                        hint="`sluice runs` lists the recent ones",
                    )
                ended = run.status not in LIVE
                # The progress (a query over the run's parts) every `poll` seconds; the
                # status, to see the end, more often once it may come: `sluice run`
                # returns when the run ends.
                now = time.monotonic()
                if ended or now - told >= poll:
                    told = now
                    streams = self.progress(run_id, run.pipeline)
                    closing = not any(s.queued for s in streams)
                    if on_progress is not None:
                        on_progress(RunProgress(run.status, streams))
                if ended:
                    return final_report(run).as_dict()
                time.sleep(min(poll, END_POLL_SECONDS) if closing else poll)

    # ------------------------------------------------------------------ stopping

    def cancel(self, run_id: str) -> RunStatus:
        """Ask the workers to stop the run: parts going roll back their load, parts
        not started do not start; the run ends ``cancelled``."""
        run = self.store.known_run(run_id)
        if run.status not in LIVE:
            raise RunConflict(
                f"run {run_id} is not going (status: {run.status})",
                hint="only a running or queued run can be cancelled",
            )
        self.store.set_run_status(run_id, RunStatus.CANCELLING)
        self.store.log(run_id, "warning", "cancel asked: the workers stop between batches")
        if not RunParts(self.store).of(run_id):
            # Not planned yet (or its plan was lost with a broker): nothing runs to stop
            # it, so it ends here; a plan task that comes later finds it over.
            cause = cancelled(run_id, run.pipeline)
            end_run(self.store, run_id, run.pipeline, RunStatus.CANCELLED, cause)
            return RunStatus.CANCELLED
        return RunStatus.CANCELLING

    def start_watching(self) -> CeleryExecutor:
        """Tell the hooks (alerts, metrics) of each run queued here when it ends."""
        self._watcher = threading.Thread(target=self._watch, name="sluice-celery", daemon=True)
        self._watcher.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(HOOK_POLL_SECONDS):
            with self._lock:
                mine = dict(self._mine)
            # The runs queued here hold their lease while this service lives.
            with contextlib.suppress(Exception):  # the store blinked: the next beat
                self.store.beat(list(mine))
            for run_id in mine:
                try:
                    run = self.store.run(run_id)
                except Exception:  # the store blinked: look again next time
                    continue
                if run is not None and run.status not in LIVE:
                    with self._lock:
                        self._mine.pop(run_id, None)
                    self.on_submit()  # the service's read cache: show the end at once
                    # its report as the workers assembled it
                    self.hooks.after_run(final_report(run))

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop watching; runs queued on Celery go on in the workers."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout)
        if self._local is not None:
            self._local.shutdown(timeout)
