"""`sluice serve` over https (--ssl-certfile/--ssl-keyfile), and its warning when it serves
plain HTTP off loopback."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from sluice.cli.app import app
from sluice.testing import free_port, processes
from tests.support.service import OPERATOR, VIEW, VIEWER


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    processes.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_serve_speaks_https_with_the_given_certificate(leads: Path, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    env = {**os.environ, "SLUICE_OPERATOR_TOKENS": OPERATOR, "SLUICE_VIEWER_TOKENS": VIEWER}
    env.pop("SLUICE_SECURE_COOKIES", None)
    command = [sys.executable, "-m", "sluice", "serve", "-p", str(leads), "--port", str(port)]
    command += ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    server = processes.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=trusted) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    health = http.get("/api/health", headers=VIEW)
                    break
                except httpx.ConnectError:
                    assert server.poll() is None, server.communicate()[1].decode()
                    assert time.monotonic() < deadline, "the server did not start in 60 s"
                    time.sleep(0.1)
            assert health.status_code == 200 and health.json()["state_store"] == "ok"
            signed = http.post("/api/session", data={"token": VIEWER})
            assert signed.status_code == 200
            assert "; secure" in signed.headers["set-cookie"].lower()  # https: Secure
        # plain http on the same port is no way in
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/api/health", headers=VIEW, timeout=5)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert b"warning" not in err  # https on loopback: nothing to warn about


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What `sluice serve` would start uvicorn with (it starts nothing: no port is bound
    on a public address by a test)."""
    import uvicorn

    from sluice.service import close

    calls: list[dict[str, Any]] = []

    def run(app: Any, **kw: Any) -> None:
        calls.append(kw)
        close(app)  # what serving would have closed at its end: the executor's lease thread

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setenv("SLUICE_OPERATOR_TOKENS", OPERATOR)
    return calls


def test_serve_warns_once_on_plain_http_off_loopback(
    leads: Path, uvicorn_calls: list[dict[str, Any]]
) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["serve", "-p", str(leads), "--host", "0.0.0.0"])
    assert out.exit_code == 0, out.output
    warning = [line for line in out.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and "plain HTTP on 0.0.0.0" in warning[0]
    assert "--ssl-certfile" in warning[0]
    assert uvicorn_calls[-1]["ssl_certfile"] is None
    quiet = runner.invoke(app, ["serve", "-p", str(leads), "--host", "127.0.0.1"])
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr


def test_serve_passes_the_certificate_to_uvicorn_and_wants_both_files(
    leads: Path, tmp_path: Path, uvicorn_calls: list[dict[str, Any]]
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("not read here")
    key.write_text("not read here")
    runner = CliRunner()
    args = ["serve", "-p", str(leads), "--host", "0.0.0.0"]
    out = runner.invoke(app, [*args, "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)])
    assert out.exit_code == 0, out.output
    assert "https://0.0.0.0" in out.stdout and "warning" not in out.stderr
    assert uvicorn_calls[-1]["ssl_certfile"] == str(cert)
    assert uvicorn_calls[-1]["ssl_keyfile"] == str(key)
    half = runner.invoke(app, [*args, "--ssl-certfile", str(cert)])
    assert half.exit_code == 2 and "go together" in half.output
