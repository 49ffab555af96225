"""sluice.redact: every secret-bearing part of a URL masked, the rest of it kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.dburl import redact
from sluice.errors import FetchError, Where
from sluice.redact import redact_data, redact_text, redact_url
from sluice.state.quarantine import NewEntry
from sluice.state.store import StateStore
from sluice.status import EntryKind


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # database URLs: the userinfo password, and password parameters of the query
        (
            "postgresql://postgres@127.0.0.1/test?password=s3cret&sslpassword=k3y&sslmode=require",
            "postgresql://postgres@127.0.0.1/test?password=***&sslpassword=***&sslmode=require",
        ),
        ("postgresql://u:p@ss/w@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("redis://:pw@localhost:6379/0", "redis://:***@localhost:6379/0"),
        ("sqlite:///data/warehouse.db", "sqlite:///data/warehouse.db"),
        # HTTP: secret parameters by name, whatever their case; the page stays
        (
            "http://h/v1/items?api_key=a&page=2&Token=b&access_token=c&key=d&secret=e"
            "&signature=f&sig=g&apikey=h&client_secret=i&X-Amz-Signature=j&author=me",
            "http://h/v1/items?api_key=***&page=2&Token=***&access_token=***&key=***&secret=***"
            "&signature=***&sig=***&apikey=***&client_secret=***&X-Amz-Signature=***&author=me",
        ),
        ("https://ghp_t0k3n@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("https://host:8080/users/@me?page=2", "https://host:8080/users/@me?page=2"),
        ("https://x.org/cb#access_token=abc&state=1", "https://x.org/cb#access_token=***&state=1"),
        # webhooks whose path is the secret
        (
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "https://hooks.slack.com/services/***",
        ),
        ("https://discord.com/api/webhooks/123/abcDEF", "https://discord.com/api/webhooks/***"),
        (
            "https://acme.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d",
            "https://acme.webhook.office.com/webhookb2/***",
        ),
        ("https://chat.example.org/hooks/abc123", "https://chat.example.org/hooks/***"),
        ("https://api.example.org/v1/services/items", "https://api.example.org/v1/services/items"),
    ],
)
def test_a_url_shows_with_its_secrets_masked(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_names_a_caller_knows_are_secret_are_masked_too() -> None:
    assert redact_url("http://h/x?appcode=1&page=2", ["appcode"]) == "http://h/x?appcode=***&page=2"


def test_text_has_every_url_and_pair_and_known_value_masked() -> None:
    text = (
        "GET http://h/x?api_key=K3yV4lue answered HTTP 501: no route for /x?api_key=K3yV4lue "
        "(key K3yV4lue); Authorization: Bearer abcdefghijkl; warehouse "
        "'mysql://u:pw@h/db?password=zz'"
    )
    out = redact_text(text, values=["K3yV4lue"])
    assert "K3yV4lue" not in out and "abcdefghijkl" not in out and "zz'" not in out
    assert "pw@" not in out
    assert "http://h/x?api_key=*** answered HTTP 501" in out
    assert "mysql://u:***@h/db?password=***" in out


def test_data_is_copied_with_every_string_redacted() -> None:
    data = {"a": ["x?token=1", ("y", 2)], "b": None, "c": 3}
    assert redact_data(data) == {"a": ["x?token=***", ("y", 2)], "b": None, "c": 3}
    assert data["a"][0] == "x?token=1"


def test_the_database_redact_masks_query_passwords() -> None:
    assert redact("postgresql://u@h/db?password=s3cret") == "postgresql://u@h/db?password=***"
    assert redact("mysql://u:p@h/db") == "mysql://u:***@h/db"


def test_every_error_masks_the_urls_it_quotes() -> None:
    exc = FetchError(
        "GET http://h/x?token=t0k3n failed",
        hint="try http://h/x?token=t0k3n",
        where=Where(file="http://h/x?token=t0k3n"),
    )
    assert "t0k3n" not in str(exc) and "t0k3n" not in repr(exc.as_dict())
    assert exc.message == "GET http://h/x?token=*** failed"
    assert exc.hint == "try http://h/x?token=***"  # as the CLI prints it


def test_the_state_store_keeps_no_secret_of_a_url_in_log_report_or_reasons(
    tmp_path: Path,
) -> None:
    store = StateStore(f"sqlite:///{tmp_path}/state.db")
    try:
        run_id = store.start_run("p")
        store.log(
            run_id, "warning", "GET http://h/x?api_key=K3y failed", url="http://h/x?token=T0k"
        )
        store.quarantine(
            [
                NewEntry(
                    run_id=run_id,
                    pipeline="p",
                    source="s",
                    kind=EntryKind.ROW,
                    unit="http://h/x",
                    line=None,
                    reasons=["http://h/x?page=2&access_token=T0k: not an object"],
                    payload={"raw": "?token=kept: the row is data, never changed"},
                    file_id=None,
                )
            ]
        )
        store.finish_run(run_id, "failed", {"destination": "postgresql://u@h/db?password=s3cret"})
        (event,) = store.events(run_id)
        (entry,) = store.quarantined(pipeline="p")
        run = store.run(run_id)
        assert run is not None
    finally:
        store.close()
    assert event.message == "GET http://h/x?api_key=*** failed"
    assert event.data == {"url": "http://h/x?token=***"}
    assert entry.reasons == ["http://h/x?page=2&access_token=***: not an object"]  # ":" kept
    assert entry.payload == {"raw": "?token=kept: the row is data, never changed"}
    assert run.report == {"destination": "postgresql://u@h/db?password=***"}
