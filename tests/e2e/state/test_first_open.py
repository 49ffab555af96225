"""Processes opening a new state store at the same moment: one creates the tables,
the others wait for it and find them made (never `table ... already exists`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.at_once import at_once

ROUNDS = 6


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_processes_opening_a_new_state_store_at_once_all_succeed(
    request: pytest.FixtureRequest, dialect: str, tmp_path: Path
) -> None:
    if dialect == "sqlite":
        urls = [f"sqlite:///{tmp_path / f'state{k}.db'}" for k in range(ROUNDS)]
    else:  # one fresh schema: the first round races, the others find it made
        urls = [str(request.getfixturevalue("pg_url"))] * ROUNDS
    setup = f"""
        from sluice.state.store import StateStore
        urls = {urls!r}
    """
    body = """
        for k, url in enumerate(urls):
            barrier(k)
            try:
                StateStore(url).close()
                print("opened")
            except Exception as exc:
                print(f"round {k}: {exc}")
    """
    done = at_once(tmp_path / "race", setup, body, n=4)
    assert [p.stdout.split("\n")[:-1] for p in done] == [["opened"] * ROUNDS] * 4, done
