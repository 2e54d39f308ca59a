"""Figure 4: bytes of the message that carries one click's 5 points, with a short and a long
history in the plot, and whether the points reached the browser at all. The guide's example
has no way to build a long history but clicking, so it is measured with a short one."""

from __future__ import annotations

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from benchmarks.figures import Bench, close
from benchmarks.protocol_client import stream_message_bytes

SOURCE = "window.Bokeh.documents[0].get_model_by_name('stream-source')"
LONG_HISTORY = 10_000


def click_message(page: Page, frames: list) -> dict:
    """Click once; the size of the message that streamed its points, and whether they arrived."""
    last_x = f"() => {{ const x = {SOURCE}.data.x; return x[x.length - 1]; }}"
    before, x0 = len(frames), page.evaluate(last_x)
    history = page.evaluate(f"() => {SOURCE}.data.x.length")
    page.get_by_role("button", name="Click me!").click()
    try:
        page.wait_for_function(f"() => ({last_x})() === {x0 + 5}", timeout=4000)
        arrived = True
    except PlaywrightError:
        arrived = False
    sizes = stream_message_bytes(frames[before:])
    return {"bytes": sizes[0] if sizes else None, "points_arrived": arrived, "history": history}


def fill_history(page: Page, points: int) -> None:
    """Stream at full speed with Live until the plot holds `points` points, then stop."""
    field = page.locator(".bk-input-group").filter(has_text="Points kept (rollover)")
    field.locator("input").fill(str(points * 5))
    field.locator("input").press("Enter")
    for label in ("Updates per second", "Points per update"):
        page.locator(".bk-input-group").filter(has_text=label).get_by_role("slider").focus()
        page.keyboard.press("End")
    page.get_by_role("button", name="Live").click()
    page.wait_for_function(f"() => {SOURCE}.data.x.length >= {points}", timeout=30000)
    page.get_by_role("button", name="Live").click()
    # Let the live updates already on their way land: until the length holds for 1 s.
    page.wait_for_function(
        f"""() => new Promise(done => {{
            const n = {SOURCE}.data.x.length;
            setTimeout(() => done({SOURCE}.data.x.length === n), 1000);
        }})""", timeout=15000,
    )  # fmt: skip


def measure(bench: Bench) -> dict:
    out = {}
    for target in (bench.servers.app(), bench.servers.baseline()):
        frames: list = []
        page = bench.page(target, "/bokeh_streaming", frames)
        result = {"short": click_message(page, frames)}
        if target.name == "app":
            fill_history(page, LONG_HISTORY)
            result["long"] = click_message(page, frames)
        else:
            result["long"] = {"bytes": None, "points_arrived": None, "history": None}
        out[target.name] = result
        close([page])
    return out
