"""Processes forked from the preloaded server behave as freshly started ones do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.executors.forkserver import ForkPopen, ForkServer, python_command, run
from sluice.testing import processes


@pytest.fixture(scope="module")
def server() -> Iterator[ForkServer]:
    fs = ForkServer(preload=("sluice.config",))
    yield fs
    fs.close()


def both(args: list[str], server: ForkServer, **kw: object) -> tuple[object, object]:
    """What a fresh interpreter and a forked child give for the same command."""
    fresh = subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)  # type: ignore[call-overload]
    forked = run(args, server=server, capture_output=True, text=True, timeout=60, **kw)
    return (fresh.returncode, fresh.stdout, fresh.stderr), (
        forked.returncode,
        forked.stdout,
        forked.stderr,
    )


@pytest.mark.parametrize(
    "code",
    [
        "import sys; print(sys.argv); sys.exit(3)",
        "import sys; sys.exit('a message')",
        "raise ValueError('boom')",
        "import os; print(os.getcwd(), os.environ.get('ONLY'), sorted(os.environ)[:3])",
        "import sys; print(sys.path[0] == '', sys.stdout.encoding, sys.stdout.errors)",
        "print('é', end='')",
    ],
)
def test_a_forked_child_answers_as_a_fresh_interpreter(
    code: str, server: ForkServer, tmp_path: Path
) -> None:
    env = {"ONLY": "this", "PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8"}
    fresh, forked = both([sys.executable, "-c", code, "x"], server, cwd=tmp_path, env=env)
    assert forked == fresh


def test_python_m_runs_the_module_as_main_with_its_arguments(
    server: ForkServer, tmp_path: Path
) -> None:
    (tmp_path / "probe.py").write_text("import sys\nprint(__name__, sys.argv[1:])\n")
    fresh, forked = both([sys.executable, "-m", "probe", "a", "b"], server, cwd=tmp_path)
    assert forked == fresh == (0, "__main__ ['a', 'b']\n", "")


def test_signals_reach_the_child_and_its_code_says_so(server: ForkServer) -> None:
    proc = ForkPopen([sys.executable, "-c", "import time; time.sleep(60)"], server=server)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(0.2)
    proc.terminate()
    assert proc.wait(10) == -signal.SIGTERM
    interrupted = run([sys.executable, "-c", "raise KeyboardInterrupt"], server=server)
    assert interrupted.returncode == -signal.SIGINT  # as python itself exits on Ctrl-C


def test_a_new_session_is_its_own_process_group(server: ForkServer) -> None:
    code = "import os; print(os.getpgid(0) == os.getpid())"
    done = run([sys.executable, "-c", code], server=server, capture_output=True, text=True)
    alone = run(
        [sys.executable, "-c", code],
        server=server,
        capture_output=True,
        text=True,
        start_new_session=True,
    )
    assert (done.stdout, alone.stdout) == ("False\n", "True\n")


def test_the_server_exits_with_the_process_that_started_it(tmp_path: Path) -> None:
    code = (
        "import sys; from sluice.executors.forkserver import ForkServer; "
        "fs = ForkServer(preload=()); fs.address(); print(fs._proc.pid, flush=True)"
    )
    # Forked from the test's preloaded server (the code's imports are already made);
    # the fork server it starts is a fresh interpreter all the same.
    done = processes.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    pid = int(done.stdout)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _exited(pid):
            return
        time.sleep(0.02)
    raise AssertionError(f"the fork server {pid} outlived its parent")


def _exited(pid: int) -> bool:
    """Whether ``pid`` has exited: gone, or a zombie (an orphan is reaped by init, which
    here took seconds to get to it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_only_python_commands_are_forked() -> None:
    assert python_command([sys.executable, "-m", "sluice", "run"]) == (
        "sluice",
        None,
        ["sluice", "run"],
    )
    assert python_command(["psql", "-c", "select 1"]) is None
    with pytest.raises(ValueError, match="not a python"):
        ForkPopen(["true"])


@pytest.mark.parametrize(
    "locale",
    [{"LC_ALL": "C.UTF-8"}, {"PYTHONIOENCODING": "latin-1:replace"}, {"PYTHONUTF8": "1"}],
)
def test_the_streams_are_encoded_as_a_fresh_interpreter_would(
    locale: dict[str, str], server: ForkServer
) -> None:
    code = "import sys; print(sys.stdout.encoding, sys.stdout.errors, sys.stdin.errors)"
    env = {"PATH": os.environ["PATH"], **locale}
    fresh, forked = both([sys.executable, "-c", code], server, env=env)
    assert forked == fresh


def test_paths_in_the_command_are_taken_as_subprocess_takes_them(
    server: ForkServer, tmp_path: Path
) -> None:
    (tmp_path / "probe.py").write_text("import sys\nprint(sys.argv[1:])\n")
    command = [sys.executable, "-m", "probe", tmp_path / "a file"]
    fresh, forked = both(command, server, cwd=tmp_path)  # type: ignore[arg-type]
    assert forked == fresh == (0, f"[{str(tmp_path / 'a file')!r}]\n", "")


def test_only_this_user_can_reach_the_socket(server: ForkServer) -> None:
    folder = Path(server.address()).parent
    assert folder.stat().st_mode & 0o777 == 0o700


def test_a_missing_working_directory_fails_the_child_not_the_server(
    server: ForkServer, tmp_path: Path
) -> None:
    gone = tmp_path / "gone"
    with pytest.raises(FileNotFoundError) as fresh:
        subprocess.run([sys.executable, "-c", "print('ran')"], cwd=gone)
    with pytest.raises(FileNotFoundError) as forked:
        run([sys.executable, "-c", "print('ran')"], server=server, cwd=gone)
    assert forked.value.filename == fresh.value.filename == gone
    again = run([sys.executable, "-c", "print('ok')"], server=server, capture_output=True)
    assert again.stdout == b"ok\n"  # the server serves on, and no child became one


def test_a_run_starts_without_the_fork_server_when_it_cannot_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    unset_urls: None,
) -> None:
    """The service's run process comes from a fresh interpreter if the fork server
    cannot start here (here: it is asked to preload a module that does not exist)."""
    from sluice.config import load_project
    from sluice.executors import forkserver
    from sluice.executors.local import LocalExecutor
    from sluice.state.store import StateStore
    from sluice.testing import copy_example

    broken = ForkServer(preload=("sluice_no_such_module",))
    monkeypatch.setitem(forkserver._servers, forkserver.PRELOAD, broken)
    root = copy_example("leads", tmp_path / "leads")
    project = load_project(root)
    store = StateStore(project.state_url())
    executor = LocalExecutor(project, store)
    try:
        run_id = executor.trigger("leads", "api").run_id
        deadline = time.monotonic() + 60
        while (run := store.run(run_id)) is not None and run.status in ("running", "queued"):
            assert time.monotonic() < deadline, "the run never ended"
            time.sleep(0.05)
    finally:
        executor.shutdown()
        store.close()
    assert run is not None and run.status == "succeeded_with_quarantine"
    assert "starting the run process without the fork server" in caplog.text
