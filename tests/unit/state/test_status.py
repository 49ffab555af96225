"""The status vocabulary: the stored words never change, and plain strings read back
from the state store are found in the enums' sets."""

from __future__ import annotations

import json

from sluice.status import (
    FINISHED,
    LIVE,
    PART_ENDED,
    QUARANTINE_CLOSED,
    FileStatus,
    PartStatus,
    QuarantineStatus,
    QuarantineView,
    RunStatus,
)


def test_the_stored_words_are_the_ones_the_state_store_always_held() -> None:
    # A change here is a migration of every state store and of the API: do not.
    assert [s.value for s in RunStatus] == [
        "queued",
        "running",
        "cancelling",
        "succeeded",
        "succeeded_with_quarantine",
        "failed",
        "cancelled",
        "abandoned",
    ]
    assert [s.value for s in PartStatus] == ["queued", "running", "done", "failed"]
    assert [s.value for s in FileStatus] == ["loading", "loaded", "quarantined", "failed"]
    assert [s.value for s in QuarantineStatus] == [
        "pending",
        "open",
        "replaying",
        "replayed",
        "discarded",
        "superseded",
    ]


def test_a_plain_string_from_the_database_is_found_in_the_sets() -> None:
    assert {"queued", "running", "cancelling"} == set(LIVE)
    assert all(s in LIVE for s in ("queued", "running", "cancelling"))
    assert "succeeded" in FINISHED and "running" not in FINISHED
    assert set(RunStatus) == FINISHED | LIVE and not FINISHED & LIVE
    assert "done" in PART_ENDED and "queued" not in PART_ENDED
    assert "superseded" in QUARANTINE_CLOSED and "open" not in QUARANTINE_CLOSED
    assert (
        json.dumps({"status": RunStatus.QUARANTINED}) == '{"status": "succeeded_with_quarantine"}'
    )


def test_a_quarantine_view_is_a_status_or_all() -> None:
    assert [v.value for v in QuarantineView] == [
        "open",
        "replaying",
        "replayed",
        "superseded",
        "discarded",
        "all",
    ]
    assert QuarantineView.ALL.status is None
    assert QuarantineView("superseded").status is QuarantineStatus.SUPERSEDED
    assert "pending" not in tuple(QuarantineView)  # internal: never listed
