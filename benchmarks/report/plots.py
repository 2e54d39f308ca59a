"""plots.png: click-to-feedback p95 (figure 1), server threads and memory (figure 5) against
sessions, and the capacity climb (figure 8), drawn with Bokeh and rendered by the headless
browser."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.support.browser import DOCUMENT_READY, launch

COLORS = {"app": "#0072B5", "baseline": "#D55E00", "cluster": "#009E73"}


def _panels(results: dict) -> list:
    from bokeh.plotting import figure

    panels = []

    def panel(title: str, y_label: str, series: dict[str, tuple[list, list]]):
        fig = figure(title=title, x_axis_label="sessions", y_axis_label=y_label, width=420,
                     height=320, toolbar_location=None)  # fmt: skip
        for name, (xs, ys) in series.items():
            fig.line(xs, ys, color=COLORS[name], legend_label=name, line_width=2)
            fig.scatter(xs, ys, color=COLORS[name], size=7)
        fig.legend.location = "top_left"
        panels.append(fig)

    latency = results.get("click_to_feedback", {})
    if "app" in latency:
        panel('Click to "Running N", p95', "ms", {
            name: ([int(n) for n in rows if n.isdigit()],
                   [rows[n]["p95"] for n in rows if n.isdigit()])
            for name, rows in latency.items() if name in COLORS
        })  # fmt: skip
    memory = results.get("memory", {})
    if "app" in memory:
        for key, title, unit in (("threads_open", "Server threads, sessions open", "threads"),
                                 ("rss_mib_open", "Server memory, sessions open", "MiB RSS")):
            panel(title, unit, {name: ([r["sessions"] for r in memory[name]],
                                       [r[key] for r in memory[name]])
                                for name in ("app", "baseline")})  # fmt: skip
    capacity = results.get("capacity", {})
    if "app" in capacity:
        panel("Capacity climb: the tab's click p95", "ms", {
            name: ([s["sessions"] for s in c["steps"]], [s["p95"] for s in c["steps"]])
            for name, c in capacity.items() if name in COLORS and "steps" in c
        })  # fmt: skip
    return panels


def plots(report: dict, out: Path) -> None:
    from bokeh.embed import file_html
    from bokeh.layouts import row
    from bokeh.resources import INLINE

    panels = _panels(report["results"])
    if not panels:
        return
    html_path = out / "plots.html"
    html_path.write_text(file_html(row(*panels), INLINE, "benchmarks"))
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 430 * len(panels), "height": 330})
        page.goto(html_path.resolve().as_uri())
        page.wait_for_function(DOCUMENT_READY)
        page.wait_for_timeout(500)  # let the canvas paint
        page.screenshot(path=out / "plots.png")
        browser.close()
    html_path.unlink()
