"""`sluice serve` refuses unsafe settings before it listens."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sluice.cli.app import app


def test_serve_refuses_open_mode_off_loopback_and_no_tokens(
    leads: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLUICE_OPERATOR_TOKENS", raising=False)
    monkeypatch.delenv("SLUICE_VIEWER_TOKENS", raising=False)
    runner = CliRunner()
    out = runner.invoke(app, ["serve", "-p", str(leads), "--dev-open", "--host", "0.0.0.0"])
    assert out.exit_code == 2 and "loopback" in out.output
    out = runner.invoke(app, ["serve", "-p", str(leads)])
    assert out.exit_code == 2 and "SLUICE_OPERATOR_TOKENS" in out.output
