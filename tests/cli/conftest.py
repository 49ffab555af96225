"""Fixtures shared by the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.testing import copy_example


@pytest.fixture
def leads(tmp_path: Path) -> Path:
    """A fresh copy of examples/leads (no state, no warehouse) in the test's folder."""
    return copy_example("leads", tmp_path / "leads")
