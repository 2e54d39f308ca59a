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
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright

from benchmarks.browser import install_click_clock, ms_from_click_until
from benchmarks.harness import Served, browser_executable
from benchmarks.queue_pickup import measure_once, percentile

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

# Keeps clicking it every `ms` milliseconds: a busy visitor, with no Python in the loop.
SELF_CLICKER = f"""([label, ms]) => {{
    const button = ({FIND_BUTTON})(label);
    setInterval(() => button.click(), ms);
}}"""


def summary(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 1),
        "p95": round(percentile(values, 0.95), 1),
        "n": len(values),
    }


def _self_clicking(page: Page, label: str, every_ms: int) -> None:
    page.get_by_role("button", name=label).wait_for()
    page.evaluate(SELF_CLICKER, [label, every_ms])


def _close(pages: list[Page]) -> None:
    for page in pages:
        page.context.close()


# 1 ----------------------------------------------------------------------------------------
def click_to_feedback(
    page_of: PageOf, targets: dict[str, Served], sessions: list[int], repeats: int
) -> dict:
    """ms from a click to "Running N", with N-1 other sessions busy: half clicking the async
    button every 2 s, half streaming (the app's Live mode; the guide's example has only its
    button, clicked every second)."""
    out: dict = {name: {} for name in NAMES}
    for name in NAMES:
        for n in sessions:
            background = []
            for i in range(n - 1):
                if i % 2 == 0:
                    page = page_of(name, "/async_callbacks")
                    _self_clicking(page, "Click me!", 2000)
                else:
                    page = page_of(name, "/bokeh_streaming")
                    if name == "app":
                        page.get_by_role("button", name="Live").click()
                    else:
                        _self_clicking(page, "Click me!", 1000)
                background.append(page)
            probe = page_of(name, "/async_callbacks")
            install_click_clock(probe)
            values, lost = [], 0
            for k in range(1, repeats + 1):
                probe.get_by_role("button", name="Click me!").click()
                try:
                    # "Running k", or a later N should the server have merged two clicks.
                    values.append(ms_from_click_until(probe, r"Running (\d+)", at_least=k))
                except TimeoutError:  # no feedback within a minute: count it, and go on
                    lost += 1
            out[name][str(n)] = {**summary(values or [float("nan")]), "no_feedback": lost}
            _close([*background, probe])
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
            finished = page.evaluate(
                """(started) => new Promise(resolve => {
                    const text = (node) => { let out = '';
                        if (node.shadowRoot) out += text(node.shadowRoot);
                        for (const c of node.childNodes)
                            out += c.nodeType === 3 ? c.textContent : text(c);
                        return out; };
                    const check = () => /Finished 100(?!\\d)/.test(text(document.body))
                        ? resolve(performance.now()) : setTimeout(check, 2);
                    check(); })""",
                started,
            )
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
def stream_message_bytes(frames: list) -> list[int]:
    """Sizes of the Bokeh messages (header, metadata, content, buffers) that stream points."""
    sizes, i = [], 0
    while i + 2 < len(frames):
        try:
            buffers = json.loads(frames[i]).get("num_buffers", 0)
        except (TypeError, ValueError):
            i += 1
            continue
        message = frames[i : i + 3 + buffers]
        if "ColumnsStreamed" in str(message[2]):
            sizes.append(sum(len(f) for f in message))
        i += 3 + buffers
    return sizes


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
    """Server RSS (MiB) and threads with N sessions open on the threaded-queue page, each
    having launched one item, and again after they closed."""
    out: dict = {}
    for name in NAMES:
        process = psutil.Process(targets[name].pid)
        warm = page_of(name, "/threaded_queue")
        _close([warm])
        rows = []
        for n in sessions:
            before = (process.memory_info().rss / 2**20, process.num_threads())
            pages = [page_of(name, "/threaded_queue") for _ in range(n)]
            for page in pages:
                page.get_by_role("button", name="Click to launch").click()
            during = (process.memory_info().rss / 2**20, process.num_threads())
            _close(pages)
            # Sessions are destroyed a few seconds after their tabs close.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and process.num_threads() > before[1]:
                time.sleep(0.5)
            after = (process.memory_info().rss / 2**20, process.num_threads())
            rows.append(
                {
                    "sessions": n,
                    "rss_mib_before": round(before[0], 1),
                    "rss_mib_open": round(during[0], 1),
                    "mib_per_session": round((during[0] - before[0]) / n, 2),
                    "rss_mib_after_close": round(after[0], 1),
                    "threads_before": before[1],
                    "threads_open": during[1],
                    "threads_after_close": after[1],
                }
            )
        out[name] = rows
    return out


# 6 ----------------------------------------------------------------------------------------
def _get_ms(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def loop_lag_while_computing(page_of: PageOf, targets: dict[str, Served]) -> dict:
    """The app's event-loop lag p99 over 5 s with both workers computing (from /health), and
    for both servers the round trip of GET /liveness while their queues work."""
    out: dict = {}
    for name in NAMES:
        page = page_of(name, "/threaded_queue")
        if name == "app":
            page.get_by_role("button", name="Compute (NumPy, releases the GIL)").click()
        for _ in range(4):
            page.get_by_role("button", name="Click to launch").click()
        pings = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pings.append(_get_ms(f"{targets[name].url}/liveness"))
            time.sleep(0.05)
        out[name] = {"liveness_ms": summary(pings)}
        if name == "app":
            with urllib.request.urlopen(f"{targets[name].url}/health?window=5") as response:
                health = json.loads(response.read())
            out[name]["loop_lag_p99_ms"] = health["loop_lag"]["p99_ms"]
            out[name]["loop_lag_max_ms"] = health["loop_lag"]["max_ms"]
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


def markdown(report: dict) -> str:
    r = report["results"]
    lines = [
        f"Measured {report['date']} on {report['machine']}"
        + (" (quick mode)" if report["quick"] else "")
        + ". Ratio = baseline / app (above 1: the app is better).",
        "",
        "| Figure | App | Guide's example | Ratio |",
        "| --- | --- | --- | --- |",
    ]
    for n, app in r["click_to_feedback_ms"]["app"].items():
        base = r["click_to_feedback_ms"]["baseline"][n]
        lines.append(
            f"| 1. Click to \"Running N\", {n} sessions (median / p95) | {app['median']} / "
            f"{app['p95']} ms | {base['median']} / {base['p95']} ms | "
            f"{_ratio(base['p95'], app['p95'])} (p95) |"
        )
    a, b = r["hundred_tasks_extra_ms"]["app"], r["hundred_tasks_extra_ms"]["baseline"]
    lines.append(
        f"| 2. Extra time beyond 2 s, 100 concurrent tasks (median) | {a['median']} ms | "
        f"{b['median']} ms | {_ratio(b['median'], a['median'])} |"
    )
    a, b = r["queue_pickup_ms"]["app"], r["queue_pickup_ms"]["baseline"]
    lines.append(
        f"| 3. Queue pickup, click to \"Processing\" (median / p95) | {a['median']} / {a['p95']} "
        f"ms | {b['median']} / {b['p95']} ms | {_ratio(b['median'], a['median'])} |"
    )
    for hist in ("history_10", "history_10000"):
        a, b = r["bytes_per_update"]["app"][hist], r["bytes_per_update"]["baseline"][hist]
        base_text = (
            "not measured" if b["points_arrived"] is None
            else f"{b['bytes']} B" + ("" if b["points_arrived"] else ", points never arrive")
        )  # fmt: skip
        lines.append(
            f"| 4. Bytes per 5-point update, {hist.split('_')[1]} points of history | "
            f"{a['bytes']} B | {base_text} | — |"
        )
    for a, b in zip(
        r["memory_and_threads"]["app"], r["memory_and_threads"]["baseline"], strict=True
    ):
        lines.append(
            f"| 5. {a['sessions']} sessions: MiB per session; threads open → after close | "
            f"{a['mib_per_session']} MiB; {a['threads_open']} → {a['threads_after_close']} | "
            f"{b['mib_per_session']} MiB; {b['threads_open']} → {b['threads_after_close']} | — |"
        )
    lag = r["loop_lag_computing_ms"]
    lines.append(
        f"| 6. Loop lag p99 with both workers computing; /liveness p95 | "
        f"{lag['app'].get('loop_lag_p99_ms')} ms; {lag['app']['liveness_ms']['p95']} ms | "
        f"no probe; {lag['baseline']['liveness_ms']['p95']} ms (its queue only sleeps) | — |"
    )
    loads = r["page_load_ms"]
    bare = loads["bare one-widget page"]["median"]
    for label, values in loads.items():
        lines.append(
            f"| 7. Page load to first render, {label} (median) | {values['median']} ms | "
            f"bare page {bare} ms | {values['median'] / bare:.1f}x the bare page |"
        )
    return "\n".join(lines) + "\n"


def plots(report: dict, out: Path) -> None:
    """PNG plots of figures 1 and 5, drawn with Bokeh and rendered by the headless browser."""
    from bokeh.embed import file_html
    from bokeh.layouts import row
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    r = report["results"]
    latency = figure(
        title="Click to feedback, p95 (ms)", x_axis_label="sessions", width=480, height=320,
        toolbar_location=None,
    )
    memory = figure(
        title="Server threads with sessions open", x_axis_label="sessions", width=480, height=320,
        toolbar_location=None,
    )
    for name, color in (("app", "#0072B5"), ("baseline", "#D55E00")):
        points = r["click_to_feedback_ms"][name]
        xs = [int(n) for n in points]
        latency.line(xs, [points[n]["p95"] for n in points], color=color, legend_label=name)
        latency.scatter(xs, [points[n]["p95"] for n in points], color=color)
        rows = r["memory_and_threads"][name]
        xs = [row_["sessions"] for row_ in rows]
        memory.line(xs, [row_["threads_open"] for row_ in rows], color=color, legend_label=name)
        memory.scatter(xs, [row_["threads_open"] for row_ in rows], color=color)
    html_path = out / "plots.html"
    html_path.write_text(file_html(row(latency, memory), INLINE, "benchmarks"))
    with sync_playwright() as playwright:
        path = browser_executable()
        browser = playwright.chromium.launch(**({"executable_path": path} if path else {}))
        page = browser.new_page(viewport={"width": 1000, "height": 360})
        page.goto(html_path.as_uri())
        page.wait_for_function("() => window.Bokeh && window.Bokeh.documents.length > 0")
        page.wait_for_timeout(500)  # let the canvas paint
        page.screenshot(path=out / "plots.png")
        browser.close()
    html_path.unlink()
