"""The delivery ledger of http destinations: each record key, whether it is being sent,
was acknowledged or refused, and how often; and the keys each run had to deliver."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from sluice.state.core import StoreCore, chunks
from sluice.state.faults import retry_dropped
from sluice.state.models import Base, Delivery, RunKey, utcnow
from sluice.status import DeliveryOutcome, DeliveryStatus


@retry_dropped
class Deliveries(StoreCore):
    """Deliveries by (pipeline, target, key) and run keys by run."""

    def delivery_status(self, pipeline: str, target: str, keys: list[str]) -> dict[str, str]:
        """The ledger status of each of ``keys`` that it knows."""
        out: dict[str, str] = {}
        t = sa.Table(Delivery.__tablename__, Base.metadata)
        with self.engine.connect() as conn:
            for chunk in chunks(keys, 500):
                rows = conn.execute(
                    sa.select(t.c.key, t.c.status).where(
                        t.c.pipeline == pipeline, t.c.target == target, t.c.key.in_(chunk)
                    )
                )
                out.update({k: st for k, st in rows})
        return out

    def mark_deliveries(
        self, pipeline: str, target: str, keys: list[str], status: DeliveryStatus, run_id: str
    ) -> None:
        """Move ``keys`` to ``status`` (sending: one more send; acked: one more ack)."""
        t = sa.Table(Delivery.__tablename__, Base.metadata)
        now = utcnow()
        bump: dict[str, Any] = {}  # sending: one more send; acked: one more ack
        if status == DeliveryStatus.SENDING:
            bump = {"sends": t.c.sends + 1}
        elif status == DeliveryStatus.ACKED:
            bump = {"acks": t.c.acks + 1}
        with self.engine.begin() as conn:
            for chunk in chunks(keys, 500):
                where = (t.c.pipeline == pipeline) & (t.c.target == target) & t.c.key.in_(chunk)
                known = set(conn.execute(sa.select(t.c.key).where(where)).scalars())
                if known:
                    conn.execute(
                        t.update()
                        .where(where)
                        .values(status=status, run_id=run_id, updated_at=now, **bump)
                    )
                new = [k for k in chunk if k not in known]
                if new:
                    conn.execute(
                        t.insert(),
                        [
                            {
                                "pipeline": pipeline,
                                "target": target,
                                "key": k,
                                "status": status,
                                "sends": 1 if status == DeliveryStatus.SENDING else 0,
                                "acks": 1 if status == DeliveryStatus.ACKED else 0,
                                "run_id": run_id,
                                "updated_at": now,
                            }
                            for k in new
                        ],
                    )

    def record_run_keys(
        self, run_id: str, pipeline: str, target: str, outcomes: Mapping[str, DeliveryOutcome]
    ) -> None:
        t = sa.Table(RunKey.__tablename__, Base.metadata)
        with self.engine.begin() as conn:
            for chunk in chunks(list(outcomes), 500):
                conn.execute(t.delete().where(t.c.run_id == run_id, t.c.key.in_(chunk)))
                conn.execute(
                    t.insert(),
                    [
                        {
                            "run_id": run_id,
                            "key": k,
                            "pipeline": pipeline,
                            "target": target,
                            "outcome": outcomes[k],
                        }
                        for k in chunk
                    ],
                )

    def run_keys(self, run_id: str) -> Sequence[RunKey]:
        with self.session() as s:
            return s.scalars(sa.select(RunKey).where(RunKey.run_id == run_id)).all()

    def deliveries(self, pipeline: str, target: str, keys: list[str]) -> dict[str, Delivery]:
        out: dict[str, Delivery] = {}
        with self.session() as s:
            for chunk in chunks(keys, 500):
                rows = s.scalars(
                    sa.select(Delivery).where(
                        Delivery.pipeline == pipeline,
                        Delivery.target == target,
                        Delivery.key.in_(chunk),
                    )
                )
                out.update({d.key: d for d in rows})
        return out
