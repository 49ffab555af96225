"""The statuses of runs, parts, ledger entries, quarantine entries and deliveries: one
vocabulary.

Each is a :class:`~enum.StrEnum`: a member *is* its string, so the state store keeps the
same words it always did (no migration), JSON documents and API answers are unchanged,
and a status read back from the database (a plain ``str``) compares equal to its member
and is found in the sets below. The sets that group statuses are defined here, once,
next to the words they group.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """What became of a run (``sluice_runs.status``, a report's ``status``)."""

    QUEUED = "queued"  # waiting its turn behind the pipeline's run going
    RUNNING = "running"
    CANCELLING = "cancelling"  # a cancel asked; whoever carries it out stops soon
    SUCCEEDED = "succeeded"
    QUARANTINED = "succeeded_with_quarantine"  # loaded, and set something aside
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: no one carried it out any more (its process died); settled from what committed
    ABANDONED = "abandoned"


#: a run someone carries out (or will): it holds a lease and its pipeline
LIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING})
#: a run that has ended: its report is final
FINISHED = frozenset(RunStatus) - LIVE


class PartStatus(StrEnum):
    """One part of a run carried out by a Celery worker (``sluice_run_tasks.status``)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


#: a part that will not run again: its report is final
PART_ENDED = frozenset({PartStatus.DONE, PartStatus.FAILED})


class FileStatus(StrEnum):
    """A unit in the file ledger (``sluice_files.status``)."""

    LOADING = "loading"  # its load began; it committed only if its load marker says so
    LOADED = "loaded"
    QUARANTINED = "quarantined"  # set aside whole (a drifted or unreadable file)
    FAILED = "failed"


class QuarantineStatus(StrEnum):
    """A quarantine entry (``sluice_quarantine.status``)."""

    #: a row of a load not yet committed: it becomes ``open`` with the commit, or is
    #: forgotten when the load rolls back
    PENDING = "pending"
    OPEN = "open"
    REPLAYING = "replaying"  # claimed by a replay run (``replay_run_id``)
    REPLAYED = "replayed"
    DISCARDED = "discarded"
    SUPERSEDED = "superseded"  # a later load made it obsolete (``superseded_by``)


#: entries that will never be replayed: pruned once old enough
QUARANTINE_CLOSED = frozenset(
    {QuarantineStatus.REPLAYED, QuarantineStatus.DISCARDED, QuarantineStatus.SUPERSEDED}
)


class QuarantineView(StrEnum):
    """What a user may list of the quarantine (``sluice quarantine list --status``, the
    API's and the dashboard's filter): the entries of one status a user sees (``pending``
    is internal), or all of them."""

    OPEN = "open"
    REPLAYING = "replaying"
    REPLAYED = "replayed"
    SUPERSEDED = "superseded"
    DISCARDED = "discarded"
    ALL = "all"

    @property
    def status(self) -> QuarantineStatus | None:
        """The status to filter on; None: every entry."""
        return None if self is QuarantineView.ALL else QuarantineStatus(self.value)


class RunKind(StrEnum):
    """What a run does (``RunReport.kind``): load the sources, replay quarantine entries,
    or record an API's answers into a cassette (``sluice record``)."""

    RUN = "run"
    REPLAY = "replay"
    RECORD = "record"


class SlotOutcome(StrEnum):
    """What became of a schedule's slot (``sluice_schedules.outcome``)."""

    CLAIMED = "claimed"  # taken by a scheduler, its run not yet submitted
    BASELINE = "baseline"  # when a schedule was first seen (or changed): runs nothing
    SUBMITTED = "submitted"
    REJECTED = "rejected"  # a run of the pipeline was still going (if_running: reject)
    ERROR = "error"  # the run could not be submitted (see the server's log)


class EntryKind(StrEnum):
    """What a quarantine entry holds (``sluice_quarantine.kind``)."""

    ROW = "row"
    FILE = "file"  # a whole unit set aside, replayed from its kept copy


class DeliveryStatus(StrEnum):
    """A record key in the delivery ledger of an http destination (``sluice_deliveries``)."""

    SENDING = "sending"  # from just before its POST until the API answers
    ACKED = "acked"
    REJECTED = "rejected"  # refused for good


class DeliveryOutcome(StrEnum):
    """What a run did with a record key it had to deliver (``sluice_run_keys.outcome``):
    ``sluice audit`` holds it against the key's :class:`DeliveryStatus`."""

    PENDING = "pending"  # on record before anything is sent: a run that dies still owes it
    DELIVERED = "delivered"
    RESENT = "resent"  # sent again: a run died with it in flight, the target may have it
    ALREADY = "already"  # acknowledged before this run: not sent
    REJECTED = "rejected"  # refused for good: its record is quarantined
