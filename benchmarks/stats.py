"""The suite's arithmetic, in one place: one percentile, one summary of a sample, and how the
results of several runs are pooled into one."""

from __future__ import annotations

import math
import statistics
from typing import Any

SUMMARY_KEYS = {"median", "p95", "n", "values"}


def percentile(values: list[float], q: float) -> float | None:
    """The q-th quantile (0 to 1) by nearest rank: a value of the sample, never between two."""
    ordered = sorted(v for v in values if v == v)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def p95_counting_misses(values: list[float], missed: int) -> float | None:
    """The p95 of a sample in which `missed` measurements never came, counted as infinitely
    late: None when the p95 falls on one of them."""
    value = percentile([*values, *[math.inf] * missed], 0.95)
    return None if value is None or value == math.inf else round(value, 1)


def summary(values: list[float]) -> dict:
    """Median and p95 of a sample, keeping the sample so runs can be pooled (combine)."""
    values = [v for v in values if v == v]  # drop NaN: a measurement that never came
    if not values:
        return {"median": None, "p95": None, "n": 0, "values": []}
    return {
        "median": round(statistics.median(values), 1),
        "p95": round(percentile(values, 0.95), 1),
        "n": len(values),
        "values": [round(v, 1) for v in values],
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def combine(runs: list) -> Any:
    """One result from several runs of the same figures: samples pooled (with each run's median
    kept, to show the spread between runs), other numbers as their median over runs. A key that
    only some runs have (a part measured in the first run only) is taken from those runs."""
    runs = [run for run in runs if run is not None]
    if not runs:
        return None
    first = runs[0]
    if isinstance(first, dict) and "values" in first:
        others = {k: combine([run.get(k) for run in runs]) for k in first if k not in SUMMARY_KEYS}
        pooled = summary([v for run in runs for v in run["values"]])
        return {**pooled, "run_medians": [run["median"] for run in runs], **others}
    if isinstance(first, dict):
        keys = list(dict.fromkeys(k for run in runs for k in run))
        return {key: combine([run.get(key) for run in runs]) for key in keys}
    if isinstance(first, list) and all(isinstance(run, list) for run in runs):
        if len({len(run) for run in runs}) == 1:
            return [combine(list(items)) for items in zip(*runs, strict=True)]
        return first
    if _is_number(first):
        numbers = [run for run in runs if _is_number(run)]
        value = statistics.median(numbers)
        return round(value, 2) if isinstance(value, float) else value
    return first if all(run == first for run in runs) else runs
