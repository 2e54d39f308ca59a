"""Figure 9's table: the app's async page and the five peers, a column each, a row per value,
each peer's cell with its ratio to the app (peer / app: above 1 the app is better), and a last
column saying whether the app is ahead of every peer on that row, and if not, of which not."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.peers import PEERS
from benchmarks.report.cells import ms, row, times

NAMES = ["app", *PEERS]


def _latency(key: str) -> tuple[Callable, Callable]:
    def text(r: dict) -> str:
        c = r[key]
        lost = c["without_feedback"]
        dropped = f"; **{lost} of {c['clicks']} clicks got no new \"Running\"**" if lost else ""
        return f"{ms(c)}{dropped}"

    def value(r: dict) -> float | None:
        return r[key]["p95_counting_lost"]  # a click without feedback: infinitely late

    return text, value


def _burst_text(r: dict) -> str:
    b = r["burst"]
    if b["finished_n_ms"] is not None and b["distinct_running"] > 1:
        return f"{b['finished_n_ms']:,.0f} ms"
    if b["finished_n_ms"] is not None:
        return (f"{b['finished_n_ms']:,.0f} ms, but **one run**: the clicks merged (only "
                f"\"Running {b['max_running']}\" shown)")  # fmt: skip
    if (b["max_finished"] or 0) > 1:
        return (f"**not within {b['waited_s']:g} s**: up to \"Finished {b['max_finished']}\" "
                "by then")  # fmt: skip
    return (f"**never**: the clicks made {b['distinct_running']} run(s); last shown "
            f"\"{b['last_text']}\"")  # fmt: skip


def _burst_value(r: dict) -> float | None:
    b = r["burst"]
    return b["finished_n_ms"] if b["distinct_running"] > 1 else None


def _idle(key: str, unit: str) -> tuple[Callable, Callable]:
    # A session costs nothing less than nothing: a negative difference is noise, read as 0.
    return (lambda r: f"{r['idle'][key]:g}{unit}"), (lambda r: max(0.0, r["idle"][key]))


LINES: list[tuple[str, tuple[Callable, Callable]]] = [
    ('9. Click to new "Running", one session, clicks 1 s apart (median / p95)', _latency("alone")),
    ('9. The same with background tabs clicking every 2 s (median / p95)', _latency("loaded")),
    ('9. 100 clicks at once: "Finished 100" after', (_burst_text, _burst_value)),
    ("9. Memory per idle session (MiB, process tree)", _idle("mib_per_session", " MiB")),
    ("9. Threads per idle session", _idle("threads_per_session", "")),
]


def _ahead(results: dict, value: Callable) -> str:
    """Whether the app's value is below every peer's (a missing value: could not)."""
    mine = value(results["app"])
    behind = []
    for name in PEERS:
        if "error" in results.get(name, {"error": 1}):
            continue
        theirs = value(results[name])
        if theirs is not None and (mine is None or theirs < mine):
            behind.append(name)
    return "yes" if not behind else "**no**: behind " + ", ".join(behind)


def _cell(results: dict, name: str, text: Callable, value: Callable) -> str:
    r = results.get(name)
    if r is None or "error" in r:
        return f"not measured ({r['error']})" if r else "not measured"
    if name == "app":
        return text(r)
    return f"{text(r)} ({times(value(r), value(results['app']))})"


def table(results: dict) -> list[str]:
    """The rows of figure 9's table, its header first."""
    loaded = next((r["loaded"]["background_tabs"] for r in results.values() if "loaded" in r), 0)
    versions = [f"{n} {PEERS[n].version}" if n in PEERS else "app (Panel)" for n in NAMES]
    out = [
        row("Figure 9 (DOM probe, every server alone on the machine)", *versions,
            "App ahead of every peer?"),
        row(*["---"] * (len(NAMES) + 2)),
    ]
    for label, (text, value) in LINES:
        label = label.replace("background tabs", f"{loaded} background tabs")
        cells = [_cell(results, name, text, value) for name in NAMES]
        app_ok = "error" not in results.get("app", {"error": 1})
        out.append(row(label, *cells, _ahead(results, value) if app_ok else "—"))
    out.append(row("9. What it does with overlapping clicks", "every click its own task, "
                   "concurrent (at most ASYNC_MAX_TASKS a session)",
                   *[PEERS[n].overlapping for n in PEERS], ""))  # fmt: skip
    return out
