"""The local executor: each run in a run process of its own, replays in threads.

``sluice serve`` triggers runs here. A run is started first
(:func:`~sluice.engine.context.start`), in the caller's thread, so its run id exists
(and can be answered) before the load starts: a thread of this process waits on the
run's own process (``python -m sluice.executors.run_process``), or carries a replay out
itself. At most one run of a pipeline goes at a time: a trigger while one is going is
refused (:class:`~sluice.errors.RunConflict`) or, under ``if_running: queue``, waits
its turn with status ``queued``. Replays always queue.

Cancelling is cooperative: the run checks its event between batches, the load in
progress rolls back, and the run ends ``cancelled``.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

from sluice.config import Project, load_project
from sluice.engine import RunContext, lifecycle, start
from sluice.engine.exclusive import refuse_if_running, then
from sluice.engine.lease import Heartbeat, lease_seconds
from sluice.engine.replay import plan_replay
from sluice.engine.report import RunReport, final_report
from sluice.engine.run import run
from sluice.engine.settle import cancel_run, settle_stale
from sluice.errors import NotFound, RunCancelled, RunConflict, SluiceError
from sluice.executors.base import Executor, Submitted, submit_via
from sluice.executors.forkserver import ForkPopen
from sluice.executors.hooks import RunHooks
from sluice.state.store import StateStore
from sluice.status import LIVE, RunStatus

log = logging.getLogger(__name__)

__all__ = ["Executor", "LocalExecutor", "Submitted", "submit_via"]


def _start_process(cmd: list[str], err: IO[bytes]) -> subprocess.Popen[bytes]:
    """The run process, forked from the preloaded fork server (ready in milliseconds
    instead of the 1.3 s of imports a fresh interpreter spends); a fresh interpreter if
    the fork server cannot be started here."""
    streams: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": err, "stderr": err}
    try:
        return ForkPopen(cmd, **streams)
    except OSError as exc:
        log.warning("starting the run process without the fork server: %s", exc)
        return subprocess.Popen(cmd, **streams)


@dataclass
class _Job:
    ctx: RunContext
    execute: Callable[[], RunReport]
    queued: bool = False
    in_child: bool = False  # carried out by a run process (its report: in the store)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def pipeline(self) -> str:
        return self.ctx.name


class LocalExecutor:
    """Runs in run processes (replays in threads); one at a time per pipeline."""

    def __init__(
        self,
        project: Project,
        store: StateStore,
        hooks: RunHooks | None = None,
        *,
        processes: bool = True,
    ) -> None:
        """``processes``: carry out runs in run processes (see
        :mod:`sluice.executors.run_process`), so a load never holds the interpreter that serves
        requests; replays, small by nature, stay in threads."""
        self.project = project
        self.store = store
        self.processes = processes
        #: called when a run is started or queued (the service drops its read cache)
        self.on_submit: Callable[[], None] = lambda: None
        self.hooks = hooks or RunHooks()  # alerts, metrics: told of every finished run
        self._lock = threading.Lock()
        self._active: dict[str, _Job] = {}  # pipeline -> the job running
        self._queued: dict[str, deque[_Job]] = defaultdict(deque)
        self._jobs: dict[str, _Job] = {}  # run id -> job, running or queued
        self._threads: set[threading.Thread] = set()
        #: the leases of the runs going or queued here; `sluice cancel` arrives through it.
        #: Each beat also settles, now and then, the runs whose process is gone.
        self._settled_at = 0.0
        self._lease = Heartbeat(store, on_cancel=self._cancel_asked, also=self._settle_stale)
        self._lease.start()

    def _settle_stale(self) -> None:
        now = time.monotonic()
        if now - self._settled_at >= lease_seconds() / 2:
            self._settled_at = now
            settle_stale(self.project, self.store)

    def _cancel_asked(self, run_id: str) -> None:
        with contextlib.suppress(RunConflict, NotFound):  # it ended (and was pruned) meanwhile
            self.cancel(run_id)

    # ------------------------------------------------------------------ submitting

    def trigger(self, pipeline: str, by: str = "api") -> Submitted:
        """Start a run of ``pipeline`` (or queue it); its run id exists on return.

        ``by`` says what asked for it (api, schedule, watch); it goes in the run's log.
        """
        pipe = self.project.pipeline(pipeline)
        self._await_exit(pipeline)
        with self._lock:
            running = self._active.get(pipeline)
            if running is not None and pipe.if_running == "reject":
                raise RunConflict(
                    f"pipeline {pipeline!r} is running (run {running.ctx.run_id})",
                    hint="wait for it to finish or cancel it; or set `if_running: queue`",
                )
            if pipe.if_running == "reject":  # a run going elsewhere (`sluice run`, a server)
                refuse_if_running(self.store, pipeline, then(pipeline, trigger=by))
            # (a run process decides `wait` alike)
            ctx = start(self.project, pipeline, trigger=by, wait=pipe.if_running == "queue")
            if self.processes:
                job = _Job(ctx, partial(self._in_child, ctx), in_child=True)
            else:
                job = _Job(ctx, partial(run, ctx))
            return self._submit(job)

    def submit(self, pipeline: str, by: str) -> str | None:
        return submit_via(self.trigger, pipeline, by)

    def replay(
        self, *, ids: Sequence[int] | None = None, pipeline: str | None = None
    ) -> list[Submitted]:
        """Replay open quarantine entries, one run per pipeline, queued behind runs.

        The config is read afresh (as a run process does for a run): the point of a replay is
        a config fixed since the rows were set aside.
        """
        project = load_project(self.project.file or self.project.root)
        with self._lock:
            planned = plan_replay(
                project,
                self.store,
                ids=ids,
                pipeline=pipeline,
                own_stores=True,
                wait=True,  # behind a run of its pipeline going anywhere
            )
            return [
                self._submit(_Job(ctx, partial(lifecycle.execute, ctx, work)))
                for ctx, work in planned
            ]

    def _submit(self, job: _Job) -> Submitted:
        """Start or queue ``job``; the caller holds the lock."""
        self.on_submit()
        kind = job.ctx.report.kind
        self._jobs[job.ctx.run_id] = job
        self._lease.add(job.ctx.run_id)
        if job.pipeline in self._active:
            job.queued = True
            job.ctx.store.set_run_status(job.ctx.run_id, RunStatus.QUEUED)
            job.ctx.store.log(job.ctx.run_id, "info", "queued behind the run going")
            self._queued[job.pipeline].append(job)
            return Submitted(job.ctx.run_id, job.pipeline, RunStatus.QUEUED, kind)
        self._start(job)
        return Submitted(job.ctx.run_id, job.pipeline, RunStatus.RUNNING, kind)

    def _start(self, job: _Job) -> None:
        self._active[job.pipeline] = job
        self._spawn(partial(self._work, job))

    def _spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name="sluice-run", daemon=True)
        self._threads.add(thread)
        thread.start()

    def _work(self, job: _Job) -> None:
        report = job.ctx.report
        try:
            if job.queued:
                job.ctx.store.set_run_status(job.ctx.run_id, RunStatus.RUNNING)
            report = job.execute()
        except SluiceError as exc:  # the state store failed: nowhere to record it but here
            hint = f" ({exc.hint})" if exc.hint else ""
            log.error("run %s: %s%s", job.ctx.run_id, exc.message, hint)
        except Exception:  # a bug: the run recorded it in its report and log
            log.exception("run %s failed unexpectedly", job.ctx.run_id)
        finally:
            self._done(job)
        # After the pipeline is free: an alert may wait seconds on its retries.
        self.hooks.after_run(report)

    def _done(self, job: _Job) -> None:
        with self._lock:
            self._jobs.pop(job.ctx.run_id, None)
            self._lease.discard(job.ctx.run_id)
            if self._active.get(job.pipeline) is job:
                del self._active[job.pipeline]
            waiting = self._queued.get(job.pipeline)
            if waiting:
                self._start(waiting.popleft())
            self._threads.discard(threading.current_thread())
        job.done.set()

    def _in_child(self, ctx: RunContext) -> RunReport:
        """Carry out the run of ``ctx`` in a run process; its final report."""
        if ctx.cancelled.is_set():  # cancelled while queued: record it, start nothing
            return lifecycle.execute(ctx, lifecycle.nothing)
        where = self.project.file or self.project.root
        cmd = [
            sys.executable,
            "-m",
            "sluice.executors.run_process",
            *("--project", str(where), "--pipeline", ctx.name),
            *("--run-id", ctx.run_id, "--trigger", ctx.trigger),
        ]
        try:
            with tempfile.TemporaryFile() as err:
                proc = _start_process(cmd, err)
                signalled = False
                while True:
                    try:
                        code = proc.wait(timeout=0.2)
                        break
                    except subprocess.TimeoutExpired:
                        if ctx.cancelled.is_set() and not signalled:
                            proc.send_signal(signal.SIGTERM)
                            signalled = True
                err.seek(0)
                said = err.read().decode(errors="replace").strip()
            run = self.store.run(ctx.run_id)
            if run is not None and run.status not in LIVE:
                return final_report(run)  # as the run process recorded it
            # The run process ended without finishing its run: stopped before it could say so
            # (cancelled while starting), or killed, out of memory, crashed.
            if signalled:
                try:
                    ctx.check_cancelled()
                except RunCancelled as exc:
                    ctx.report.fail(exc)
            else:
                last = said.splitlines()[-1] if said else "no output"
                ctx.report.fail(
                    SluiceError(
                        f"the run process exited with code {code}: {last}",
                        hint="see the server's log; the load in progress was rolled back",
                    )
                )
            status = ctx.report.decide_status()
            self.store.finish_run(ctx.run_id, status, ctx.report)
            return ctx.report
        finally:
            if ctx.own_store:
                ctx.store.close()

    # ------------------------------------------------------------------ inspecting

    def running(self, pipeline: str) -> str | None:
        """The run id of the run of ``pipeline`` going in this process, if any."""
        self._await_exit(pipeline)
        with self._lock:
            job = self._active.get(pipeline)
            return job.ctx.run_id if job else None

    def _await_exit(self, pipeline: str | None = None, run_id: str | None = None) -> None:
        """A run process records its run's end a moment before its process exits: a caller
        who saw the run finish must not find it still going here. Wait for that moment."""
        with self._lock:
            job = self._active.get(pipeline) if pipeline else self._jobs.get(run_id or "")
        if job is None or not job.in_child:
            return
        run = self.store.run(job.ctx.run_id)
        if run is not None and run.status not in LIVE:
            job.done.wait(10)

    def is_active(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._jobs

    def live_report(self, run_id: str) -> dict[str, Any] | None:
        """The report so far of a run going (or waiting) here; None otherwise."""
        with self._lock:
            job = self._jobs.get(run_id)
        if job is None or job.in_child:  # a run process's progress is in the store
            return None
        for _ in range(3):  # the run's thread may grow a dict while we read it
            try:
                return job.ctx.report.as_dict()
            except RuntimeError:
                continue
        return None

    # ------------------------------------------------------------------ stopping

    def cancel(self, run_id: str) -> RunStatus:
        """Ask a run to stop; its status now (``cancelling``, or what it ended as).

        A queued run is taken off the queue and ends ``cancelled`` at once. A run going
        elsewhere (a `sluice run`, another server) is asked through the state store, as
        `sluice cancel` does.
        """
        self._await_exit(run_id=run_id)
        with self._lock:
            job = self._jobs.get(run_id)
            if job is not None:
                job.ctx.cancel()
                waiting = self._queued.get(job.pipeline)
                if job.queued and waiting is not None and job in waiting:
                    waiting.remove(job)
                    self._spawn(partial(self._finish_cancelled, job))
                return RunStatus.CANCELLING
        return cancel_run(self.project, self.store, run_id, wait=0)

    def _finish_cancelled(self, job: _Job) -> None:
        """A queued run cancelled before it started: record it as cancelled."""
        try:
            job.execute()  # stops at its first check, before touching anything
        except Exception:
            log.exception("cancelled run %s failed unexpectedly", job.ctx.run_id)
        finally:
            with self._lock:
                self._jobs.pop(job.ctx.run_id, None)
                self._lease.discard(job.ctx.run_id)
                self._threads.discard(threading.current_thread())

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel every run going or queued and wait for their threads."""
        with self._lock:
            for waiting in self._queued.values():
                for job in waiting:
                    job.ctx.cancel()
                    self._spawn(partial(self._finish_cancelled, job))
                waiting.clear()
            for job in self._active.values():
                job.ctx.cancel()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        self._lease.stop()
