"""`sluice --version`: the installed distribution's version, under its new name first."""

from __future__ import annotations

import importlib.metadata

import pytest

import sluice
from sluice.cli.app import DISTRIBUTIONS, installed_version


def _only(versions: dict[str, str]) -> object:
    def version(name: str) -> str:
        if name not in versions:
            raise importlib.metadata.PackageNotFoundError(name)
        return versions[name]

    return version


@pytest.mark.parametrize(
    ("installed", "shown"),
    [
        ({"sluice-etl": "1.2.0", "sluice": "0.1.0"}, "1.2.0"),
        ({"sluice": "0.1.0"}, "0.1.0"),
        ({}, sluice.__version__),  # run from a source tree: the package's own
    ],
)
def test_the_version_shown(
    installed: dict[str, str], shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importlib.metadata, "version", _only(installed))
    assert installed_version() == shown
    assert DISTRIBUTIONS[0] == "sluice-etl"
