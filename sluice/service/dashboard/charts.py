"""Small charts drawn on the server as inline SVG: no JavaScript chart library.

Each function takes plain numbers and returns markup safe to put in a template.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from sluice.status import RunStatus

#: the fills of the stage timeline, in stage order
STAGE_COLORS = {"extract": "#5b8def", "transform": "#9b6bdf", "load": "#2fa36b"}

STATUS_COLORS: dict[str, str] = {
    RunStatus.SUCCEEDED: "#2fa36b",
    RunStatus.QUARANTINED: "#e0a030",
    RunStatus.FAILED: "#d9534f",
    RunStatus.CANCELLED: "#d9534f",
    RunStatus.ABANDONED: "#d9534f",
}


def status_color(status: str) -> str:
    """The bar color of a run in the charts (blue while it goes)."""
    return STATUS_COLORS.get(status, "#5b8def")


def sparkline(
    values: Sequence[float], *, width: int = 120, height: int = 28, label: str = ""
) -> Markup:
    """A line over the values, oldest first; the last point is marked."""
    if not values:
        return Markup('<span class="muted">no runs</span>')
    if len(values) == 1:  # one run: a flat line, so there is something to see
        values = [values[0], values[0]]
    top = max(values) or 1.0
    step = width / max(len(values) - 1, 1)
    pts = [
        (round(i * step, 1), round(height - 3 - (v / top) * (height - 6), 1))
        for i, v in enumerate(values)
    ]
    line = " ".join(f"{x},{y}" for x, y in pts)
    lx, ly = pts[-1]
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{line}"/>'
        f'<circle cx="{lx}" cy="{ly}" r="2.5" fill="currentColor"/></svg>'
    )


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    unit: str = "",
    colors: Sequence[str] | None = None,
    ticks: Sequence[str] | None = None,
    width: int = 560,
    height: int = 170,
) -> Markup:
    """Vertical bars, one per value, oldest first, with the maximum on the axis.

    ``labels`` are the bars' tooltips; ``ticks`` short texts under them (if few bars).
    """
    if not values:
        return Markup(f'<p class="muted">{escape(title)}: no runs yet</p>')
    pad_l, pad_b, pad_t = 44, 26, 18
    inner_w, inner_h = width - pad_l - 4, height - pad_b - pad_t
    top = max(values) or 1.0
    slot = inner_w / len(values)
    bar_w = max(min(slot * 0.7, 40), 2)
    parts = [
        f'<svg class="chart" width="100%" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text x="0" y="12" class="axis">{escape(title)}</text>',
        f'<text x="{pad_l - 4}" y="{pad_t + 8}" class="axis" text-anchor="end">'
        f"{escape(_fmt(top))}{escape(unit)}</text>",
        f'<text x="{pad_l - 4}" y="{pad_t + inner_h}" class="axis" text-anchor="end">0</text>',
        f'<line x1="{pad_l}" y1="{pad_t + inner_h}" x2="{width - 4}" y2="{pad_t + inner_h}" '
        'class="base"/>',
    ]
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        h = (v / top) * inner_h
        x = pad_l + i * slot + (slot - bar_w) / 2
        y = pad_t + inner_h - h
        fill = colors[i] if colors else "#5b8def"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{max(h, 0.5):.1f}" '
            f'fill="{escape(fill)}"><title>{escape(label)}: {escape(_fmt(v))}{escape(unit)}'
            "</title></rect>"
        )
        if ticks and len(values) <= 16:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 8}" class="axis" '
                f'text-anchor="middle">{escape(ticks[i])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline(streams: dict[str, dict[str, float]], *, width: int = 560) -> Markup:
    """One row per stream: extract, transform and load as consecutive segments."""
    if not streams:
        return Markup('<p class="muted">no stages recorded yet</p>')
    row_h, label_w = 22, 110
    total = max((sum(s.values()) for s in streams.values()), default=0.0) or 1.0
    inner = width - label_w - 60
    height = row_h * len(streams) + 22
    parts = [
        f'<svg class="chart" width="100%" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="stage timeline"><title>stage timeline</title>'
    ]
    for r, (name, seconds) in enumerate(streams.items()):
        y = r * row_h + 4
        parts.append(f'<text x="0" y="{y + 13}" class="axis">{escape(name)}</text>')
        x = float(label_w)
        for stage, color in STAGE_COLORS.items():
            w = seconds.get(stage, 0.0) / total * inner
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{max(w, 0.5):.1f}" height="{row_h - 6}" '
                f'fill="{color}"><title>{escape(name)} {stage}: '
                f"{seconds.get(stage, 0.0):.3f} s</title></rect>"
            )
            x += w
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + 13}" class="axis">{sum(seconds.values()):.2f} s</text>'
        )
    legend_y = row_h * len(streams) + 16
    lx = label_w
    for stage, color in STAGE_COLORS.items():
        parts.append(
            f'<rect x="{lx}" y="{legend_y - 9}" width="10" height="10" fill="{color}"/>'
            f'<text x="{lx + 14}" y="{legend_y}" class="axis">{stage}</text>'
        )
        lx += 90
    parts.append("</svg>")
    return Markup("".join(parts))


def _fmt(v: float) -> str:
    if v >= 100 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.2f}"
