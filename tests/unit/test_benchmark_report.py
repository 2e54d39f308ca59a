"""What the benchmark report says (benchmarks/report/) and how the DOM probe's log is read
(benchmarks/dom_probe.py): a click that got no feedback, a peer that merged or queued the
burst, a peer ahead of the app, a figure that could not be measured."""

from __future__ import annotations

from benchmarks import dom_probe
from benchmarks.peers import PEERS
from benchmarks.report import markdown
from benchmarks.report.peers import table
from benchmarks.report.rows import burst, capacity, page_load


def test_each_click_gets_the_first_new_running_text_before_the_next_click() -> None:
    st = {
        "clicks": [0.0, 1000.0, 2000.0],
        "log": [[20.0, "Running 1"], [1500.0, "Running 1 | Finished 1"],
                [2030.0, "Running 3"], [4100.0, "Finished 3"]],
    }  # fmt: skip
    seen = dom_probe.attribute(st)
    assert seen["latencies"] == [20.0, 30.0]  # click 2 got nothing new: merged or dropped
    assert seen["without_feedback"] == 1
    assert seen["finished"] == 2
    assert dom_probe.first_seen(st["log"], "Finished") == {1: 1500.0, 3: 4100.0}


def _clicks(p95: float, lost: int = 0) -> dict:
    return {"median": p95 / 2, "p95": p95, "n": 20, "values": [], "clicks": 20,
            "without_feedback": lost, "finished": 20, "p95_counting_lost": p95}  # fmt: skip


def _peer(p95: float, burst_ms: float | None, running: int, mib: float = 0.5) -> dict:
    return {
        "idle": {"mib_per_session": mib, "threads_per_session": 0.0},
        "alone": _clicks(p95), "loaded": {**_clicks(p95), "background_tabs": 5},
        "burst": {"finished_n_ms": burst_ms, "distinct_running": running, "max_running": 100,
                  "max_finished": 100 if burst_ms else 1, "waited_s": 60.0,
                  "last_text": "Finished 1"},
    }  # fmt: skip


def test_the_peers_table_says_where_the_app_is_behind_and_what_a_peer_did_instead() -> None:
    results = {name: _peer(30.0, None, 1) for name in PEERS}
    results["app"] = _peer(20.0, 2200.0, 40, mib=0.9)
    results["nicegui"] = _peer(15.0, 2100.0, 30)  # faster click, faster burst
    results["shiny"] = _peer(30.0, 2030.0, 1)  # "Finished 100" but from one merged run
    lines = "\n".join(table(results))
    click_row = next(line for line in lines.splitlines() if "one session" in line)
    assert click_row.endswith("**no**: behind nicegui |")
    burst_row = next(line for line in lines.splitlines() if "100 clicks" in line)
    assert "**one run**" in burst_row and "**never**" in burst_row
    assert burst_row.endswith("**no**: behind nicegui |")  # shiny's merged run does not count
    memory_row = next(line for line in lines.splitlines() if "Memory" in line)
    assert "behind gradio, dash, streamlit, nicegui, shiny" in memory_row


def test_burst_and_capacity_rows_carry_their_targets() -> None:
    r = {name: {"extra_ms": {"median": m, "p95": m}, "cpu_ms_per_click": {"median": c, "p95": c}}
         for name, m, c in (("app", 250.0, 1.5), ("baseline", 600.0, 5.0))}  # fmt: skip
    first, cpu = burst(r)
    assert first.endswith("≤ 300 ms: met |") and cpu.endswith("≤ 3 ms: met |")
    step = {"sessions": 100, "p95": 140.0, "no_feedback": 2}
    climbs = {"app": {"held": 50, "ended": "missed at 100", "steps": [step]},
              "baseline": {"held": 25, "ended": "missed at 50", "steps": [step]}}
    assert "2.0x" in capacity(climbs)[0]
    assert "2 clicks lost at 100" in capacity(climbs)[0]


def test_a_figure_that_failed_is_a_row_that_says_so() -> None:
    report = {"date": "today", "machine": "here", "quick": True, "runs": 1, "minutes": 1.0,
              "results": {"burst": {"error": "TimeoutError: no"}}}  # fmt: skip
    assert "| 2. burst | not measured: TimeoutError: no |" in markdown(report)


def test_a_first_render_is_compared_with_the_bare_loads_made_beside_it() -> None:
    def ms(median: float) -> dict:
        return {"median": median, "p95": median + 50, "n": 10, "values": []}

    build = {"build_cpu_ms": {"mean": 20.0}}
    r = {"app": {"/bokeh_streaming": {"first_render_ms": ms(300.0),
                                      "bare_first_render_ms": ms(250.0), **build}},
         "baseline": {"/bare": {"first_render_ms": ms(200.0), **build}}}  # fmt: skip
    render = page_load(r)[0]
    assert "loaded alternately: 250.0 / 300.0 ms" in render
    assert render.endswith("≤ 1.3x the bare page: met (1.20x) |")  # not 1.5x the lone bare loads
