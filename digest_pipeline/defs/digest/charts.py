"""Text charts every format can show: bars, one line per bucket, and a one-line sparkline."""

from __future__ import annotations

from collections.abc import Sequence

BAR_WIDTH = 20


def bar_chart(series: Sequence[tuple[str, int]], width: int = BAR_WIDTH) -> list[str]:
    """Unicode bars, one line per (label, value); zero shows as an empty bar."""
    if not series:
        return []
    peak = max(n for _, n in series) or 1
    label_width = max(len(label) for label, _ in series)
    return [
        f"{label:<{label_width}} {'█' * round(width * n / peak):<{width}} {n}"
        for label, n in series
    ]


_SPARKS = " ▁▂▃▄▅▆▇█"


def sparkline(series: Sequence[tuple[str, int]]) -> str:
    """One character per bucket: a day's trend on one line."""
    peak = max((n for _, n in series), default=0) or 1
    return "".join(_SPARKS[0 if n == 0 else max(1, round(8 * n / peak))] for _, n in series)
