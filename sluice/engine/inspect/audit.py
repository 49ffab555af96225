"""``sluice audit RUN_ID``: did every key a run had to deliver arrive, exactly once?

The run recorded each key it was given to deliver and what became of it; the delivery
ledger says how often the target acknowledged each. A key is fine when the ledger has
it acknowledged exactly once (in this run or an earlier one) or the target refused it
and it sits in quarantine. Anything else is named.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sluice.errors import UsageError
from sluice.state.store import StateStore
from sluice.status import DeliveryOutcome, DeliveryStatus


@dataclass
class Audit:
    run_id: str
    pipeline: str
    target: str
    keys: int = 0
    delivered_now: int = 0
    delivered_before: int = 0
    rejected: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # never acknowledged
    in_doubt: list[str] = field(default_factory=list)  # sent, no answer recorded
    duplicated: dict[str, int] = field(default_factory=dict)  # key -> acknowledgements
    #: sent again because a run died with them in flight: the target may hold them twice
    resent: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.in_doubt or self.duplicated or self.resent)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "target": self.target,
            "ok": self.ok,
            "keys": self.keys,
            "delivered_exactly_once": self.delivered_now + self.delivered_before,
            "delivered_in_this_run": self.delivered_now,
            "delivered_earlier": self.delivered_before,
            "rejected": self.rejected,
            "missing": self.missing,
            "in_doubt": self.in_doubt,
            "duplicated": self.duplicated,
            "resent_after_crash": self.resent,
        }


def audit(store: StateStore, run_id: str) -> Audit:
    run = store.find_run(run_id, "sluice audit")
    owed = store.run_keys(run.id)
    if not owed:
        raise UsageError(
            f"run {run.id} delivered nothing to an http destination: there is nothing to audit",
            hint="audit a run of a pipeline whose destination has type: http",
        )
    target = owed[0].target
    result = Audit(run.id, run.pipeline, target, keys=len(owed))
    ledger = store.deliveries(run.pipeline, target, [k.key for k in owed])
    outcomes = Counter[str]()
    for k in owed:
        outcomes[k.outcome] += 1
        entry = ledger.get(k.key)
        if (
            k.outcome == DeliveryOutcome.REJECTED
            and entry is not None
            and entry.status == DeliveryStatus.REJECTED
        ):
            result.rejected.append(k.key)
        elif entry is None or entry.acks == 0:
            (
                result.in_doubt
                if entry is not None and entry.status == DeliveryStatus.SENDING
                else result.missing
            ).append(k.key)
        elif entry.acks > 1:
            result.duplicated[k.key] = entry.acks
        elif k.outcome == DeliveryOutcome.RESENT:
            result.resent.append(k.key)
        elif entry.run_id == run.id and k.outcome == DeliveryOutcome.DELIVERED:
            result.delivered_now += 1
        else:
            result.delivered_before += 1
    return result
