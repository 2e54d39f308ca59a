"""The seven measurements of benchmarks/run.py, the table and the plots.

Every figure is measured for the app and for the guide's example served the same way, where
the example has the feature; times are taken by the browser's clock (performance.now) or by
the server process's own counters (psutil), never by a fixed sleep standing for a result.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright

from benchmarks.browser import install_click_clock, ms_from_click_until, when_text
from benchmarks.protocol_client import Activity, BackgroundLoad, stream_message_bytes
from benchmarks.queue_pickup import measure_once, percentile
from tests.support.browser import browser_executable
from tests.support.serving import Served

PageOf = Callable[..., Page]  # (target name, path, frames list or None) -> rendered page
NAMES = ("app", "baseline")

# Finds a button by its label anywhere in the page, shadow DOM included.
FIND_BUTTON = """(label) => {
    const find = (root) => {
        for (const el of root.querySelectorAll('*')) {
            if (el.tagName === 'BUTTON' && el.textContent.trim() === label) return el;
            if (el.shadowRoot) { const found = find(el.shadowRoot); if (found) return found; }
        }
        return null;
    };
    return find(document);
}"""

# Clicks it `times` times at once; returns when, by the page's clock.
CLICK_BUTTON = f"""([label, times]) => {{
    const button = ({FIND_BUTTON})(label);
    for (let i = 0; i < times; i++) button.click();
    return performance.now();
}}"""

SUMMARY_KEYS = {"median", "p95", "n", "values"}


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


def combine(runs: list):
    """One result from several runs of the same figures: samples pooled (with each run's
    median kept to show the spread between runs), other numbers as their median over runs."""
    first = runs[0]
    if isinstance(first, dict) and "values" in first:
        others = {k: combine([run[k] for run in runs]) for k in first if k not in SUMMARY_KEYS}
        pooled = summary([v for run in runs for v in run["values"]])
        return {**pooled, "run_medians": [run["median"] for run in runs], **others}
    if isinstance(first, dict):
        return {key: combine([run[key] for run in runs]) for key in first}
    if isinstance(first, list):
        return [combine(list(items)) for items in zip(*runs, strict=True)]
    if isinstance(first, int | float) and not isinstance(first, bool):
        numbers = [run for run in runs if run is not None]
        value = statistics.median(numbers)
        return round(value, 2) if isinstance(value, float) else value
    return first if all(run == first for run in runs) else runs


def _close(pages: list[Page]) -> None:
    for page in pages:
        page.context.close()


# 1 ----------------------------------------------------------------------------------------
def background_activities(name: str, sessions: int) -> list[Activity]:
    """The load of figure 1: half the sessions click the async button every 2 s (so tasks are
    always running), half stream 5 points a second into their plot. The app streams with its
    Live mode set to 1 update of 5 points a second; the guide's example has only its button,
    clicked every second for the same 5 points a second."""
    if name == "app":
        stream = Activity(
            "/bokeh_streaming", watch="ColumnsStreamed",
            setup=(({"title": "Updates per second"}, "value", 1),
                   ({"title": "Points per update"}, "value", 5),
                   ({"label": "Live"}, "active", True)),
        )  # fmt: skip
    else:
        stream = Activity("/bokeh_streaming", "Click me!", 1000, "ColumnsStreamed")
    clicking = Activity("/async_callbacks", "Click me!", 2000, "Running")
    return [clicking if i % 2 == 0 else stream for i in range(sessions)]


def click_to_feedback(
    page_of: PageOf, targets: dict[str, Served], sessions: list[int], repeats: int
) -> dict:
    """ms from a click in a browser tab to "Running N" on its page, with N-1 other sessions
    busy (background_activities), driven over the Bokeh protocol (benchmarks.protocol_client).
    Also records what the background sessions sent and received, to show the load was real."""
    out: dict = {name: {} for name in NAMES}
    for name in NAMES:
        for n in sessions:
            server = psutil.Process(targets[name].pid)
            with BackgroundLoad(targets[name].url, background_activities(name, n - 1)) as load:
                probe = page_of(name, "/async_callbacks")
                install_click_clock(probe)
                values, lost = [], 0
                cpu_before, wall_before = sum(server.cpu_times()[:2]), time.monotonic()
                for k in range(1, repeats + 1):
                    probe.get_by_role("button", name="Click me!").click()
                    try:
                        # "Running k", or a later N should the server have merged two clicks.
                        values.append(ms_from_click_until(probe, r"Running (\d+)", at_least=k))
                    except TimeoutError:  # no feedback within a minute: count it, and go on
                        lost += 1
                busy = (sum(server.cpu_times()[:2]) - cpu_before) / (time.monotonic() - wall_before)
                _close([probe])
                background = load.stop()
            out[name][str(n)] = {
                **summary(values),
                "no_feedback": lost,
                "server_cpu_percent": round(100 * busy),  # of one core, while the probe clicked
                "background": background,
            }
    return out


# 2 ----------------------------------------------------------------------------------------
def hundred_tasks(page_of: PageOf, repeats: int) -> dict:
    """ms beyond the 2 s await, from 100 clicks made at once to "Finished 100"."""
    out = {}
    for name in NAMES:
        values = []
        for _ in range(max(3, repeats // 3)):
            page = page_of(name, "/async_callbacks")
            page.get_by_role("button", name="Click me!").wait_for()
            started = page.evaluate(CLICK_BUTTON, ["Click me!", 100])
            finished = when_text(page, r"Finished 100(?!\d)")
            values.append(finished - started - 2000)
            _close([page])
        out[name] = summary(values)
    return out


# 3 ----------------------------------------------------------------------------------------
def queue_pickup(page_of: PageOf, rounds: int) -> dict:
    """ms from "Click to launch" to "Processing item 1 of 1" with an idle worker."""
    rng = random.Random(1)
    pages = {name: page_of(name, "/threaded_queue") for name in NAMES}
    for page in pages.values():
        install_click_clock(page)
    values: dict[str, list[float]] = {name: [] for name in NAMES}
    for _ in range(rounds):
        for name, page in pages.items():
            values[name].append(measure_once(page, rng))
    _close(list(pages.values()))
    return {name: summary(v) for name, v in values.items()}


# 4 ----------------------------------------------------------------------------------------
def _click_message(page: Page, frames: list) -> dict:
    """Click once; the size of the message that streamed its points, and whether they arrived."""
    source = "window.Bokeh.documents[0].get_model_by_name('stream-source')"
    last_x = f"() => {{ const x = {source}.data.x; return x[x.length - 1]; }}"
    before, x0 = len(frames), page.evaluate(last_x)
    page.get_by_role("button", name="Click me!").click()
    try:
        page.wait_for_function(f"() => ({last_x})() === {x0 + 5}", timeout=4000)
        arrived = True
    except PlaywrightError:
        arrived = False
    sizes = stream_message_bytes(frames[before:])
    return {"bytes": sizes[0] if sizes else None, "points_arrived": arrived}


def _fill_history(page: Page, points: int) -> None:
    """Stream at full speed with Live until the plot holds `points` points, then stop."""
    source = "window.Bokeh.documents[0].get_model_by_name('stream-source')"
    field = page.locator(".bk-input-group").filter(has_text="Points kept (rollover)")
    field.locator("input").fill(str(points * 5))
    field.locator("input").press("Enter")
    for label in ("Updates per second", "Points per update"):
        page.locator(".bk-input-group").filter(has_text=label).get_by_role("slider").focus()
        page.keyboard.press("End")
    page.get_by_role("button", name="Live").click()
    page.wait_for_function(f"() => {source}.data.x.length >= {points}", timeout=30000)
    page.get_by_role("button", name="Live").click()
    page.wait_for_timeout(1000)  # let the live updates already on their way land


def bytes_per_update(page_of: PageOf) -> dict:
    """Bytes of the message that carries a click's 5 points, with 10 and 10,000 points of
    history, and whether the points reached the browser at all. The guide's example has no
    way to build a long history but clicking, so it is measured with a short one."""
    out = {}
    for name in NAMES:
        frames: list = []
        page = page_of(name, "/bokeh_streaming", frames)
        result = {"history_10": _click_message(page, frames)}
        if name == "app":
            _fill_history(page, 10000)
            result["history_10000"] = _click_message(page, frames)
        else:
            result["history_10000"] = {"bytes": None, "points_arrived": None}
        out[name] = result
        _close([page])
    return out


# 5 ----------------------------------------------------------------------------------------
def memory_and_threads(page_of: PageOf, targets: dict[str, Served], sessions: list[int]) -> dict:
    """Server RSS (MiB) and threads as a population of idle sessions on the threaded-queue page
    (protocol clients, each having launched one item) grows to each count in `sessions`, and
    after they all close. Run first, on fresh servers: a process that has served more sessions
    before reuses the memory they freed, and would show no growth."""
    out: dict = {}
    launch = Activity("/threaded_queue", "Click to launch", every_ms=200, clicks=1)
    for name in NAMES:
        target, process = targets[name], psutil.Process(targets[name].pid)

        def rss(process: psutil.Process = process) -> float:
            return process.memory_info().rss / 2**20

        _close([page_of(name, "/threaded_queue")])  # imports and caches of a first session
        _wait_until_closed(target, process, process.num_threads())
        base_rss, base_threads = rss(), process.num_threads()
        rows = []
        with BackgroundLoad(target.url, []) as load:
            for n in sessions:
                load.add([launch] * (n - len(load.sessions)))
                load.wait_for_actions(n)
                rows.append(
                    {
                        "sessions": n,
                        "rss_mib_before": round(base_rss, 1),
                        "rss_mib_open": round(rss(), 1),
                        "mib_per_session": round((rss() - base_rss) / n, 2),
                        "threads_before": base_threads,
                        "threads_open": process.num_threads(),
                    }
                )
        _wait_until_closed(target, process, base_threads)
        for row in rows:
            row["rss_mib_after_close"] = round(rss(), 1)
            row["threads_after_close"] = process.num_threads()
        out[name] = rows
    return out


def _wait_until_closed(target: Served, process: psutil.Process, threads: int) -> None:
    """Until the server has destroyed its closed sessions (a few seconds after their sockets
    close): the app says so on /health; for the guide's example, its threads end."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        live = _live_sessions(target)
        if (live == 0) if live is not None else process.num_threads() <= threads:
            return
        time.sleep(0.5)


def _live_sessions(target: Served) -> int | None:
    """The app's own count of live sessions (from /health), or None where there is none."""
    try:
        return _health(target)["sessions"]
    except (OSError, ValueError, KeyError):
        return None


# 6 ----------------------------------------------------------------------------------------
def _get_ms(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def _health(target: Served, window: float | None = None) -> dict:
    """The app's /health figures, whether it says "ok" (200) or "degraded" (503)."""
    query = f"?window={window}" if window else ""
    try:
        with urllib.request.urlopen(f"{target.url}/health{query}", timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as degraded:
        if degraded.code != 503:
            raise
        return json.loads(degraded.read())


LAG_WINDOW = 8.0  # seconds of both workers computing that figure 6 looks at


def loop_lag_while_computing(
    page_of: PageOf, targets: dict[str, Served], names: tuple[str, ...] = NAMES
) -> dict:
    """The app's event-loop lag p99 over 8 s with both workers computing (from /health, whose
    probe ticks every 100 ms), and for both servers the round trip of GET /liveness meanwhile.
    Ten 2-s items on two workers keep both busy through the window."""
    out: dict = {}
    for name in names:
        target = targets[name]
        page = page_of(name, "/threaded_queue")
        if name == "app":
            page.get_by_role("button", name="Compute (NumPy, releases the GIL)").click()
        for _ in range(10):
            page.get_by_role("button", name="Click to launch").click()
        if name == "app":  # from the moment both compute
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _health(target)["workers_busy"] < 2:
                time.sleep(0.05)
        pings = []
        deadline = time.monotonic() + LAG_WINDOW
        while time.monotonic() < deadline:
            pings.append(_get_ms(f"{target.url}/liveness"))
            time.sleep(0.05)
        out[name] = {"liveness_ms": summary(pings)}
        if name == "app":
            health = _health(target, LAG_WINDOW)
            out[name]["loop_lag_p99_ms"] = health["loop_lag"]["p99_ms"]
            out[name]["loop_lag_max_ms"] = health["loop_lag"]["max_ms"]
            out[name]["workers_busy_at_end"] = health["workers_busy"]
        _close([page])
    return out


# 7 ----------------------------------------------------------------------------------------
def page_load(page_of: PageOf, repeats: int) -> dict:
    """ms from navigation to the page's button being visible: each app page, the guide's
    examples, and a bare one-widget Panel page, all served by the same panel serve."""
    cases = {
        "app /async_callbacks": ("app", "/async_callbacks", "Click me!"),
        "app /bokeh_streaming": ("app", "/bokeh_streaming", "Click me!"),
        "app /threaded_queue": ("app", "/threaded_queue", "Click to launch"),
        "baseline /async_callbacks": ("baseline", "/async_callbacks", "Click me!"),
        "baseline /threaded_queue": ("baseline", "/threaded_queue", "Click to launch"),
        "bare one-widget page": ("baseline", "/bare", "Click me!"),
    }
    out = {}
    for label, (name, path, button) in cases.items():
        page = page_of(name, path)
        values = []
        for _ in range(max(3, repeats // 2)):
            started = time.perf_counter()
            page.goto(path)
            page.get_by_role("button", name=button).wait_for()
            values.append((time.perf_counter() - started) * 1000)
        out[label] = summary(values)
        _close([page])
    return out


# -- report ----------------------------------------------------------------------------------
def _ratio(base: float | None, app: float | None) -> str:
    if not base or not app:
        return "—"
    return f"{base / app:.1f}x"


def _verdict(met: bool | None) -> str:
    return "—" if met is None else ("met" if met else "**missed**")


def _ms(value: dict) -> str:
    return f"{value['median']} / {value['p95']} ms"


def _figure_rows(r: dict) -> list[str]:
    """One table row per measured value: figure, app, guide's example, ratio, target."""
    rows = []
    if "click_to_feedback_ms" in r:
        for n, app in r["click_to_feedback_ms"]["app"].items():
            base = r["click_to_feedback_ms"]["baseline"][n]
            lost = app.get("no_feedback", 0)
            met = app["p95"] is not None and app["p95"] < 50
            target = f"p95 under 50 ms at 50 sessions: {_verdict(met)}" if n == "50" else ""
            cpu = " (server CPU {}%)".format
            rows.append(
                f'| 1. Click to "Running N", {n} sessions (median / p95) | {_ms(app)}'
                + cpu(app.get("server_cpu_percent"))
                + (f", {lost} clicks without feedback" if lost else "")
                + f" | {_ms(base)}{cpu(base.get('server_cpu_percent'))} | "
                + f"{_ratio(base['p95'], app['p95'])} (p95) | {target} |"
            )
    if "hundred_tasks_extra_ms" in r:
        a, b = r["hundred_tasks_extra_ms"]["app"], r["hundred_tasks_extra_ms"]["baseline"]
        rows.append(
            f"| 2. Extra time beyond 2 s, 100 concurrent tasks (median / p95) | {_ms(a)} | "
            f"{_ms(b)} | {_ratio(b['median'], a['median'])} | under 5% (100 ms): "
            f"{_verdict(a['median'] < 100)} ({a['median'] / 20:.0f}%) |"
        )
    if "queue_pickup_ms" in r:
        a, b = r["queue_pickup_ms"]["app"], r["queue_pickup_ms"]["baseline"]
        rows.append(
            f'| 3. Queue pickup, click to "Processing" (median / p95) | {_ms(a)} | {_ms(b)} | '
            f"{_ratio(b['median'], a['median'])} | under 50 ms: {_verdict(a['median'] < 50)} |"
        )
    if "bytes_per_update" in r:
        app = r["bytes_per_update"]["app"]
        short, long = app["history_10"]["bytes"], app["history_10000"]["bytes"]
        for hist in ("history_10", "history_10000"):
            a, b = app[hist], r["bytes_per_update"]["baseline"][hist]
            base_text = (
                "not measured" if b["points_arrived"] is None
                else f"{b['bytes']} B" + ("" if b["points_arrived"] else ", points never arrive")
            )  # fmt: skip
            target = (
                f"independent of history: {_verdict(long <= 1.2 * short)} "
                f"({long / short:.2f}x)"
                if hist == "history_10000" and short and long else ""
            )  # fmt: skip
            rows.append(
                f"| 4. Bytes per 5-point update, {hist.split('_')[1]} points of history | "
                f"{a['bytes']} B | {base_text} | {_ratio(b['bytes'], a['bytes'])} | {target} |"
            )
    if "memory_and_threads" in r:
        app_rows, base_rows = r["memory_and_threads"]["app"], r["memory_and_threads"]["baseline"]
        flat = len({row["threads_open"] for row in app_rows}) == 1
        for a, b in zip(app_rows, base_rows, strict=True):
            rows.append(
                f"| 5. {a['sessions']} sessions: MiB per session; threads open → after close | "
                f"{a['mib_per_session']} MiB; {a['threads_open']} → {a['threads_after_close']} | "
                f"{b['mib_per_session']} MiB; {b['threads_open']} → "
                f"{b['threads_after_close']} | {_ratio(b['threads_open'], a['threads_open'])} "
                f"(threads) | under 1 MiB: "
                f"{_verdict(a['mib_per_session'] < 1)}; threads flat: {_verdict(flat)} |"
            )
    if "loop_lag_computing_ms" in r:
        lag = r["loop_lag_computing_ms"]
        p99 = lag["app"].get("loop_lag_p99_ms")
        rows.append(
            f"| 6. Loop lag p99 with both workers computing; /liveness median / p95 | "
            f"{p99} ms; {_ms(lag['app']['liveness_ms'])} | no probe; "
            f"{_ms(lag['baseline']['liveness_ms'])} (its queue only sleeps) | — | "
            f"p99 under 20 ms: {_verdict(p99 is not None and p99 < 20)} |"
        )
    if "page_load_ms" in r:
        loads = r["page_load_ms"]
        bare = loads["bare one-widget page"]["median"]
        for label, values in loads.items():
            if not label.startswith("app "):
                continue
            guide = loads.get(label.replace("app ", "baseline ", 1))
            rows.append(
                f"| 7. Page load to first render, {label[4:]} (median / p95) | {_ms(values)} | "
                + (f"{_ms(guide)}; " if guide else "")
                + f"bare one-widget page {_ms(loads['bare one-widget page'])} | "
                + (f"{_ratio(guide['median'], values['median'])}; " if guide else "")
                + f"{values['median'] / bare:.1f}x the bare page | |"
            )
    return rows


def markdown(report: dict) -> str:
    runs = report.get("runs", 1)
    lines = [
        f"Measured {report['date']} on {report['machine']}"
        + (" (quick mode)" if report["quick"] else "")
        + f"; {runs} run{'s' if runs != 1 else ''}, samples pooled"
        + f"; `{report.get('command', 'python -m benchmarks.run')}`."
        + " Ratio = baseline / app (above 1: the app is better).",
        "",
        "| Figure | App | Guide's example | Ratio | Target |",
        "| --- | --- | --- | --- | --- |",
        *_figure_rows(report["results"]),
    ]
    return "\n".join(lines) + "\n"


def plots(report: dict, out: Path) -> None:
    """PNG plots of figures 1 and 5, drawn with Bokeh and rendered by the headless browser."""
    from bokeh.embed import file_html
    from bokeh.layouts import row
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    r = report["results"]
    panels = []

    def panel(title: str, y_label: str):
        fig = figure(
            title=title, x_axis_label="sessions", y_axis_label=y_label, width=420, height=320,
            toolbar_location=None,
        )  # fmt: skip
        panels.append(fig)
        return fig

    colors = (("app", "#0072B5"), ("baseline", "#D55E00"))
    if "click_to_feedback_ms" in r:
        latency = panel("Click to \"Running N\", p95", "ms")
        for name, color in colors:
            points = {int(n): v["p95"] for n, v in r["click_to_feedback_ms"][name].items()}
            xs = [n for n, v in points.items() if v is not None]
            ys = [points[n] for n in xs]
            latency.line(xs, ys, color=color, legend_label=name, line_width=2)
            latency.scatter(xs, ys, color=color, size=7)
        latency.legend.location = "top_left"
    if "memory_and_threads" in r:
        threads = panel("Server threads, sessions open", "threads")
        memory = panel("Server memory, sessions open", "MiB RSS")
        for name, color in colors:
            rows = r["memory_and_threads"][name]
            xs = [row_["sessions"] for row_ in rows]
            for fig, key in ((threads, "threads_open"), (memory, "rss_mib_open")):
                ys = [row_[key] for row_ in rows]
                fig.line(xs, ys, color=color, legend_label=name, line_width=2)
                fig.scatter(xs, ys, color=color, size=7)
            threads.legend.location = memory.legend.location = "top_left"
    if not panels:
        return
    html_path = out / "plots.html"
    html_path.write_text(file_html(row(*panels), INLINE, "benchmarks"))
    with sync_playwright() as playwright:
        path = browser_executable()
        browser = playwright.chromium.launch(**({"executable_path": path} if path else {}))
        page = browser.new_page(viewport={"width": 430 * len(panels), "height": 330})
        page.goto(html_path.resolve().as_uri())
        page.wait_for_function("() => window.Bokeh && window.Bokeh.documents.length > 0")
        page.wait_for_timeout(500)  # let the canvas paint
        page.screenshot(path=out / "plots.png")
        browser.close()
    html_path.unlink()
