"""A decimal column stores the value written or refuses it: never a rounded one.

Checked against Python's own ``decimal``: whatever text comes in, the cast gives
``Decimal(text)`` exactly, or null with a reason (Polars alone rounds to the scale)."""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from sluice.transforms.cast import DECIMAL_KEEPS, MORE_PLACES_NOTE, cast

WIDE = Context(prec=100)  # the default 28 digits cannot hold a 38-digit decimal


def typed(values: list[str | None]) -> tuple[list[Decimal | None], list[str | None]]:
    value, reason = cast("amount", pl.String, "decimal")
    out = pl.DataFrame({"amount": values}, schema={"amount": pl.String}).select(value, reason)
    return out.to_series(0).to_list(), out.to_series(1).to_list()


def test_places_past_the_scale_are_refused_not_rounded() -> None:
    values = ["0.1234567", "1.5000000", "0.1234565", " 2.1234567 ", "1,234.0000001"]
    values += ["1.2345678e-1", "1.5e3", "-0.0000001", "0.000001", "12.5"]
    got, reasons = typed(values)
    assert got == [
        None,
        Decimal("1.5"),
        None,
        None,
        None,
        None,
        Decimal("1500"),
        None,
        Decimal("0.000001"),
        Decimal("12.5"),
    ]
    assert reasons[0] == (
        "amount: '0.1234567' is not a valid decimal "
        "(at most 32 digits before the point and 6 after)"
        + MORE_PLACES_NOTE.format(name="amount", scale=6, keeps=DECIMAL_KEEPS)
    )
    assert reasons[1] is None


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
        lambda d: abs(d.adjusted()) < 30
    ),
    st.sampled_from(["{}", "{:e}", "{:f}"]),
)
def test_any_written_decimal_is_stored_as_written_or_refused(number: Decimal, style: str) -> None:
    text = style.format(number)
    (got,), _ = typed([text])
    try:
        expected = Decimal(text)
    except InvalidOperation:
        expected = None
    if got is not None:
        assert got == expected, text  # never a different value
    elif expected is not None and expected == expected.quantize(Decimal("1e-6"), context=WIDE):
        assert abs(expected) >= Decimal(10) ** 32, text  # refused only when it cannot fit
