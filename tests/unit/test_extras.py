"""sluice.extras: a missing optional dependency is a one-line error naming its extra."""

from __future__ import annotations

import pytest

from sluice.errors import ConfigError, MissingExtra
from sluice.extras import DATABASES, install_command, require, require_database


def test_require_returns_the_module() -> None:
    import json

    assert require("json", "serve", "sluice serve") is json


def test_a_module_that_does_not_exist_names_the_extra_to_install() -> None:
    with pytest.raises(MissingExtra) as caught:
        require("sluice_no_such_module_xyz", "serve", "sluice serve")
    exc = caught.value
    assert str(exc) == "sluice serve needs the serve extra: pip install 'sluice-etl[serve]'"
    assert exc.extra == "serve"
    assert exc.hint is None  # one line: the message says it all
    # a usage error to the CLI: exit 2, reported without a traceback
    assert isinstance(exc, ConfigError) and exc.exit_code == 2
    assert exc.__suppress_context__  # raised `from None`: no ImportError chained


def test_a_database_driver_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        DATABASES, "postgresql", ("sluice_no_such_driver", "postgres", "PostgreSQL")
    )
    with pytest.raises(MissingExtra, match=r"^the PostgreSQL warehouse needs the postgres extra: "):
        require_database("postgresql", "warehouse")
    require_database("sqlite", "state store")  # SQLite's driver is in the base install


def test_install_command_names_the_distribution() -> None:
    assert install_command("all") == "pip install 'sluice-etl[all]'"
