"""How the report writes a value: times, ratios, verdicts, table rows."""

from __future__ import annotations

from benchmarks.stats import ratio


def row(*cells: object) -> str:
    return "| " + " | ".join("" if c is None else str(c) for c in cells) + " |"


def ms(value: dict | None) -> str:
    """ "median / p95 ms" of a summary."""
    if not value or value.get("median") is None:
        return "no sample"
    return f"{value['median']:.1f} / {value['p95']:.1f} ms"


def number(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}{unit}"


def times(numerator: float | None, denominator: float | None) -> str:
    """A ratio as "2.3x" ("—" when a side is missing)."""
    value = ratio(numerator, denominator)
    return "—" if value is None else f"{value:.1f}x"


def verdict(met: bool | None) -> str:
    return "—" if met is None else ("met" if met else "**missed**")


def at_most(value: float | None, bound: float) -> str:
    """Target verdict for `value ≤ bound`."""
    return verdict(None if value is None else value <= bound)


def within(value: float | None, reference: float | None, factor: float) -> str:
    """ "met (1.2x)" when value ≤ factor * reference."""
    x = ratio(value, reference)
    return "—" if x is None else f"{verdict(x <= factor)} ({x:.2f}x)"


def receipts(totals: dict) -> str:
    """What the background sessions received, page by page: did every one get its feedback."""
    parts = []
    for path, t in totals.items():
        each = t.get("watched_each") or []
        silent = sum(1 for w in each if not w)
        got = "each got feedback" if not silent else f"**{silent} got none**"
        errors = f", {t['errors']} errors" if t.get("errors") else ""
        parts.append(f"{path}: {t['sessions']} sessions, {got} (fewest {min(each, default=0)}, "
                     f"messages {min(t.get('messages_each') or [0])} to "
                     f"{max(t.get('messages_each') or [0])} each){errors}")  # fmt: skip
    return "; ".join(parts) or "none"
