"""sluice.dburl.check: the error sluice.dburl.normalize raises, or none, whether it asks
SQLAlchemy or accepts a URL on its own (which is how `sluice validate` skips importing it)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluice.dburl import _DRIVERS, _SA_URL, check, normalize, plainly_supported
from sluice.errors import ConfigError, Where

URLS = [
    "sqlite:///warehouse.db",
    "sqlite:////abs/path/state.db",
    "sqlite://",
    "sqlite:///:memory:",
    "duckdb:///data/w.duckdb",
    "postgres://u:p@h/db",
    "postgresql://user:pa%40ss@db.example.com:5432/warehouse?sslmode=require",
    "postgresql+psycopg://u@[::1]:5432/db",
    "postgresql://u:p@ss/w@h:5432/db",
    "mysql://root@127.0.0.1:3306/w?charset=utf8mb4&local_infile=1",
    "mariadb+pymysql://u:p@h/db",
    "mysql+pymysql://u:p@h:/db",
    # left to SQLAlchemy: odd ports (int() reads some of them), other schemes, no scheme
    "postgresql://u:p@h:54x2/db",
    # Arabic-Indic digits: int() reads them; check leaves them to SQLAlchemy
    "postgresql://u:p@h:\u0665\u0664\u0663\u0662/db",
    "postgresql://u:p@h: 5432/db",
    "warehouse.db",
    "sqlite:/warehouse.db",
    "",
    "oracle://u:p@h/db",
    "postgresql+asyncpg://u:p@h/db",
    "Postgres://u:p@h/db",
    "sqlit\u00e9:///x.db",
    "://h/db",
]


def _outcome(fn: Callable[..., object], url: str) -> tuple[str, str | None] | None:
    where = Where(file="sluice.yaml", line=3, key="warehouse")
    try:
        fn(url, label="SLUICE_WAREHOUSE_URL", where=where)
    except ConfigError as exc:
        return exc.message, exc.hint
    return None


@pytest.mark.parametrize("url", URLS)
def test_check_raises_what_normalize_raises(url: str) -> None:
    assert _outcome(check, url) == _outcome(normalize, url)


@pytest.mark.parametrize("url", URLS)
def test_what_check_accepts_alone_normalize_accepts(url: str) -> None:
    if plainly_supported(url):
        assert _outcome(normalize, url) is None


_PIECES = st.sampled_from(
    [
        *_DRIVERS,
        *("oracle", "postgresql+asyncpg", "://", ":", "@", "/", "?", "[", "]", "%40", "%"),
        *("u", "p", "h", "db", "5432", "54x", "\u0665", " ", "=", "&", "a=1", "#", "+"),
        *("\\", "\x00", "\n", "%zz", "\u00e9", "_"),
    ]
)


@settings(max_examples=300)
@given(st.lists(_PIECES, max_size=10).map("".join))
def test_check_and_normalize_agree_on_any_url(url: str) -> None:
    assert _outcome(check, url) == _outcome(normalize, url)
    if plainly_supported(url):
        assert _outcome(normalize, url) is None


def test_a_valid_url_is_checked_without_sqlalchemy() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from sluice.dburl import check; "
        "check('postgresql://u:p@h:5432/db?sslmode=require'); check('sqlite:///w.db'); "
        "print('sqlalchemy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_the_grammar_is_sqlalchemys_own() -> None:
    """An upgrade of SQLAlchemy that changes how it parses URLs fails here, not in use."""
    import inspect
    import re

    from sqlalchemy.engine import url

    def bare(text: str) -> str:
        return re.sub(r"\s+", "", text)

    assert bare(_SA_URL.pattern) in bare(inspect.getsource(url._parse_url))
