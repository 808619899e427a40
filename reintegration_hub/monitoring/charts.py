"""Server-side SVG charts for the dashboard: no script, readable without colour.

Every chart has a ``<title>`` and ``<desc>`` (``role="img"``), prints each value next to its
bar, tells its series apart by pattern (solid, hatched, dotted) as well as by shade and names
them in a legend; every bar is a link to the cases behind it, with its own ``<title>``. The
numbers are also given as a table beside each chart (see ``monitoring/dashboard.html``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

#: Per series: fill (a pattern or a shade) and the legend swatch's pattern id.
SERIES = ("solid", "hatch", "dots")
WIDTH = 640
LABEL_WIDTH = 200
ROW_HEIGHT = 26
BAR_HEIGHT = 18
_ids = itertools.count(1)


@dataclass
class Bar:
    """One row (horizontal chart) or column (column chart): a value per series."""

    label: str
    values: Sequence[float]
    texts: Sequence[str]  # each value as shown (formatted, with its unit)
    href: str | None = None
    hrefs: Sequence[str | None] = field(default_factory=list)  # per series, else ``href``


def _defs(uid: str) -> str:
    return (
        "<defs>"
        f'<pattern id="{uid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#ffffff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#0b4f8a" stroke-width="3"/></pattern>'
        f'<pattern id="{uid}-dots" width="5" height="5" patternUnits="userSpaceOnUse">'
        '<rect width="5" height="5" fill="#ffffff"/>'
        '<circle cx="2.5" cy="2.5" r="1.4" fill="#333333"/></pattern>'
        "</defs>"
    )


def _fill(uid: str, series: int) -> str:
    name = SERIES[series % len(SERIES)]
    return "#0b4f8a" if name == "solid" else f"url(#{uid}-{name})"


def _open(uid: str, title: str, description: str, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-labelledby="{uid}-title {uid}-desc" font-size="12" '
        'font-family="system-ui, sans-serif">',
        f'<title id="{uid}-title">{escape(title)}</title>',
        f'<desc id="{uid}-desc">{escape(description)}</desc>',
        _defs(uid),
    ]


def _legend(uid: str, series: Sequence[str], y: int) -> list[str]:
    parts, x = [], LABEL_WIDTH
    for i, name in enumerate(series):
        parts.append(
            f'<rect x="{x}" y="{y}" width="14" height="14" fill="{_fill(uid, i)}" '
            'stroke="#333333" stroke-width="1"/>'
            f'<text x="{x + 20}" y="{y + 11}">{escape(name)}</text>'
        )
        x += 30 + 7 * len(name)
    return parts


def _link(href: str | None, inner: str, label: str) -> str:
    tip = f"<title>{escape(label)}</title>"
    if not href:
        return f"<g>{tip}{inner}</g>"
    return f'<a href="{escape(href)}" aria-label="{escape(label)}">{tip}{inner}</a>'


def hbar_chart(
    title: str,
    description: str,
    bars: Sequence[Bar],
    *,
    series: Sequence[str] = (),
    maximum: float | None = None,
    stacked: bool = False,
    empty: str = "",
) -> Markup:
    """Horizontal bars, one row per ``Bar``; several series side by side or ``stacked``."""
    uid = f"chart{next(_ids)}"
    count = max((len(b.values) for b in bars), default=1)
    per_row = 1 if stacked else count
    row = ROW_HEIGHT if per_row == 1 else (BAR_HEIGHT * per_row + 10)
    legend = 24 if len(series) > 1 else 0
    height = max(40, len(bars) * row + 10 + legend)
    top = max((sum(b.values) if stacked else max(b.values, default=0) for b in bars), default=0)
    scale_max = maximum if maximum is not None else (top or 1)
    span = WIDTH - LABEL_WIDTH - (250 if stacked else 90)
    parts = _open(uid, title, description, height)
    if legend:
        parts += _legend(uid, series, 4)
    if not bars and empty:
        parts.append(f'<text x="10" y="24">{escape(empty)}</text>')
    for i, bar in enumerate(bars):
        y = legend + 6 + i * row
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + row / 2 + 2:.0f}" text-anchor="end">'
            f"{escape(_short(bar.label, 27))}</text>"
        )
        x = float(LABEL_WIDTH)
        for j, value in enumerate(bar.values):
            length = span * (value / scale_max) if scale_max else 0
            by = y + (0 if stacked or per_row == 1 else j * BAR_HEIGHT) + 2
            href = bar.hrefs[j] if j < len(bar.hrefs) else bar.href
            name = series[j] if j < len(series) else ""
            label = f"{bar.label}{' · ' + name if name else ''}: {bar.texts[j]}"
            rect = (
                f'<rect x="{x:.1f}" y="{by}" width="{max(length, 1.5):.1f}" '
                f'height="{BAR_HEIGHT - 2}" fill="{_fill(uid, j)}" stroke="#0b4f8a" '
                'stroke-width="1"/>'
            )
            if not stacked:
                rect += (
                    f'<text x="{x + max(length, 1.5) + 4:.1f}" y="{by + BAR_HEIGHT - 5}">'
                    f"{escape(bar.texts[j])}</text>"
                )
            parts.append(_link(href, rect, label))
            if stacked:
                x += length
        if stacked:
            shown = " / ".join(bar.texts)
            parts.append(f'<text x="{x + 4:.1f}" y="{y + BAR_HEIGHT - 3}">{escape(shown)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def column_chart(
    title: str,
    description: str,
    bars: Sequence[Bar],
    *,
    series: Sequence[str] = (),
    height: int = 200,
    label_every: int = 1,
) -> Markup:
    """Vertical columns (a time series or a histogram); series side by side."""
    uid = f"chart{next(_ids)}"
    legend = 24 if len(series) > 1 else 0
    bottom = height - 30
    count = max((len(b.values) for b in bars), default=1)
    top = max((max(b.values, default=0) for b in bars), default=0) or 1
    slot = (WIDTH - 40) / max(len(bars), 1)
    width = max(2.0, (slot - 4) / count)
    parts = _open(uid, title, description, height)
    if legend:
        parts += _legend(uid, series, 4)
    parts.append(f'<line x1="30" y1="{bottom}" x2="{WIDTH - 5}" y2="{bottom}" stroke="#333333"/>')
    for i, bar in enumerate(bars):
        x0 = 34 + i * slot
        for j, value in enumerate(bar.values):
            length = (bottom - legend - 22) * value / top
            x = x0 + j * width
            href = bar.hrefs[j] if j < len(bar.hrefs) else bar.href
            name = series[j] if j < len(series) else ""
            label = f"{bar.label}{' · ' + name if name else ''}: {bar.texts[j]}"
            rect = (
                f'<rect x="{x:.1f}" y="{bottom - length:.1f}" width="{width:.1f}" '
                f'height="{max(length, 0.5):.1f}" fill="{_fill(uid, j)}" stroke="#0b4f8a" '
                'stroke-width="1"/>'
            )
            if len(bars) * count <= 24 and value:
                rect += (
                    f'<text x="{x + width / 2:.1f}" y="{bottom - length - 3:.1f}" '
                    f'text-anchor="middle" font-size="10">{escape(bar.texts[j])}</text>'
                )
            parts.append(_link(href, rect, label))
        if i % label_every == 0:
            parts.append(
                f'<text x="{x0 + slot / 2 - 2:.1f}" y="{bottom + 14}" text-anchor="middle" '
                f'font-size="10">{escape(bar.label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def _short(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


Formatter = Callable[[float], str]
