"""PII policies, applied to a batch's raw fields before anything else reads them.

``drop`` empties the field, ``hash`` replaces it by ``sha256(salt + value)`` in hex,
``mask`` keeps its last ``keep`` characters (a value no longer than that is masked
whole). Because this runs first, validation reasons, quarantine entries and logs only
ever see the hidden form. ``restricted`` values are kept (they load into their own
table) but a quarantine entry shows them as :data:`RESTRICTED`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import polars as pl

from sluice.config import PipelineConfig
from sluice.errors import ConfigError
from sluice.transforms.hashing import sha256_hex

RESTRICTED = "<restricted>"
WITHHELD = "<withheld: this pipeline hides PII columns, so unparsed lines are not kept>"


def _mask(expr: pl.Expr, keep: int) -> pl.Expr:
    length = expr.str.len_chars()
    tail = expr.str.slice(-keep) if keep else pl.lit("")
    shown = pl.when(length > keep).then(tail).otherwise(pl.lit(""))
    return shown.str.pad_start(length, "*")


@dataclass
class PiiPlan:
    """The policies of one unit: raw field (header) -> (policy, column config)."""

    fields: dict[str, tuple[str, int]]
    salt: str | None

    @classmethod
    def build(cls, pipe: PipelineConfig, rename: dict[str, str], salt: str | None) -> PiiPlan:
        cols = pipe.table.columns
        fields: dict[str, tuple[str, int]] = {
            header: (str(spec.pii), spec.keep)
            for header, column in rename.items()
            if (spec := cols.get(column)) is not None and spec.pii is not None
        }
        if salt is None and any(p == "hash" for p, _ in fields.values()):
            raise ConfigError(
                "pii: hash needs a salt, and pii_salt is not set",
                hint="set pii_salt: ${SLUICE_PII_SALT} in sluice.yaml and export SLUICE_PII_SALT",
            )
        return cls(fields, salt)

    @property
    def hides(self) -> bool:
        return bool(self.fields)

    def apply(self, raw: pl.DataFrame, skip: Collection[str] = ()) -> pl.DataFrame:
        """The batch with dropped, hashed and masked fields already in their hidden form.

        ``skip``: fields hidden already (a pull kept in the dead letter)."""
        exprs: list[pl.Expr] = []
        for header, (policy, keep) in self.fields.items():
            if header not in raw.columns or policy == "restricted" or header in skip:
                continue
            value = pl.col(header).cast(pl.String)
            blank = value.str.strip_chars().str.len_chars() == 0
            value = pl.when(blank).then(None).otherwise(value)
            if policy == "drop":
                exprs.append(pl.lit(None, pl.String).alias(header))
            elif policy == "hash":
                salted = pl.lit(self.salt or "", pl.String) + value  # null stays null
                exprs.append(sha256_hex(salted).alias(header))
            else:
                exprs.append(_mask(value, keep).alias(header))
        return raw.with_columns(exprs) if exprs else raw

    def restore(self, raw: pl.DataFrame, only: Collection[str] | None = None) -> pl.DataFrame:
        """A replayed batch from quarantine: a ``<restricted>`` placeholder becomes null
        (the value itself was never copied out of its table). ``only``: these fields."""
        exprs = [
            pl.when(pl.col(h) == RESTRICTED).then(None).otherwise(pl.col(h)).alias(h)
            for h, (policy, _) in self.fields.items()
            if policy == "restricted" and h in raw.columns and (only is None or h in only)
        ]
        return raw.with_columns(exprs) if exprs else raw

    def redact(self, payload: dict[str, Any], reasons: list[str]) -> list[str]:
        """Hide restricted values in a quarantine entry (in place); the reasons, cleaned."""
        for header, (policy, _) in self.fields.items():
            if policy != "restricted":
                continue
            value = payload.get(header)
            if value is not None:
                payload[header] = RESTRICTED
                text = str(value)
                if text.strip():
                    reasons = [r.replace(text, RESTRICTED) for r in reasons]
        return reasons
