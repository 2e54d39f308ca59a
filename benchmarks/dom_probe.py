"""The DOM probe of figure 9: the same clock for Panel and for frameworks without a Bokeh model.

Installed in a page, it marks the time of every pointer press (capture phase, before the page
sees it) and, with a MutationObserver on the document and on every shadow root, logs with its
time each change of the set of "Running N" / "Finished N" texts the page shows (the rendered
text: `innerText` of the body and of each shadow root's elements). Python only reads that log
afterwards, so Playwright's round trips are in no number. Adapted from the peers spike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from playwright.sync_api import Page

from benchmarks.browser import FIND_BUTTON

INSTALL = r"""() => {
    if (window.__probe) return;
    const P = window.__probe = {clicks: [], log: [], last: null};
    window.addEventListener('pointerdown', () => P.clicks.push(performance.now()), true);
    const re = /(Running|Finished) (\d+)/g;
    const roots = new Set();
    const observer = new MutationObserver((records) => {
        if (records.some(r => r.type === 'childList')) watchShadows(document);
        read();
    });
    const options = {subtree: true, childList: true, characterData: true, attributes: true};
    const watchShadows = (root) => {
        for (const el of root.querySelectorAll('*')) {
            if (!el.shadowRoot) continue;
            if (!roots.has(el.shadowRoot)) {
                roots.add(el.shadowRoot);
                observer.observe(el.shadowRoot, options);
            }
            watchShadows(el.shadowRoot);
        }
    };
    const shown = () => {
        const parts = [document.body.innerText];
        for (const root of roots) {
            for (const el of root.children) {
                if (el.tagName !== 'STYLE' && el.tagName !== 'LINK') parts.push(el.innerText);
            }
        }
        return parts.join('\n');
    };
    const read = () => {
        const found = (shown().match(re) || []).join(' | ');
        if (found !== P.last) { P.last = found; P.log.push([performance.now(), found]); }
    };
    observer.observe(document.body, options);
    watchShadows(document);
    read();
}"""

BURST = f"""(n) => {{
    const button = ({FIND_BUTTON})('Click me!');
    const started = performance.now();
    for (let i = 0; i < n; i++) button.click();
    return started;
}}"""

STATE = "() => ({clicks: window.__probe.clicks, log: window.__probe.log, now: performance.now()})"

# Background tabs click on their own, by the page's timer: no Python round trip per click.
CLICK_EVERY = f"""(ms) => {{
    const button = ({FIND_BUTTON})('Click me!');
    setTimeout(() => {{ button.click(); setInterval(() => button.click(), ms); }},
               Math.random() * ms);
}}"""


def install(page: Page) -> None:
    page.evaluate(INSTALL)


def state(page: Page) -> dict:
    return page.evaluate(STATE)


def first_seen(log: list, label: str) -> dict[int, float]:
    """{N: the page time at which "<label> N" first showed}."""
    seen: dict[int, float] = {}
    for at, text in log:
        for part in text.split(" | "):
            word, _, number = part.partition(" ")
            if word == label and number.isdigit():
                seen.setdefault(int(number), at)
    return seen


def wait_quiet(page: Page, done: Callable[[dict], bool], quiet_s: float, limit_s: float) -> dict:
    """Read the page's log until `done(state)`, or nothing changed for `quiet_s`, or `limit_s`
    passed; the last state, with "ended" saying which."""
    started = last_change = time.monotonic()
    last_len = -1
    while True:
        st = state(page)
        now = time.monotonic()
        if len(st["log"]) != last_len:
            last_len, last_change = len(st["log"]), now
        ended = (
            "done" if done(st)
            else f"quiet {quiet_s:g} s" if now - last_change > quiet_s
            else f"limit {limit_s:g} s" if now - started > limit_s
            else None
        )  # fmt: skip
        if ended:
            return {**st, "ended": ended}
        page.wait_for_timeout(100)


def attribute(st: dict) -> dict:
    """Per click, the first new "Running K" shown after it and before the next click: the
    click-to-feedback times (ms), and the clicks that got none (dropped or merged)."""
    clicks, log = st["clicks"], st["log"]
    running, finished = first_seen(log, "Running"), first_seen(log, "Finished")
    taken: set[int] = set()
    latencies, without = [], 0
    for i, clicked in enumerate(clicks):
        following = clicks[i + 1] if i + 1 < len(clicks) else math.inf
        new = sorted((at, k) for k, at in running.items() if clicked <= at < following
                     and k not in taken)  # fmt: skip
        if new:
            at, k = new[0]
            taken.add(k)
            latencies.append(at - clicked)
        else:
            without += 1
    return {
        "latencies": latencies,
        "clicks": len(clicks),
        "without_feedback": without,
        "finished": sum(1 for k in taken if k in finished),
    }


def burst(page: Page, n: int, quiet_s: float, limit_s: float) -> dict:
    """`n` clicks in one JavaScript loop; ms from the first until "Finished n" shows (None if it
    does not), and what the page showed instead."""
    started = page.evaluate(BURST, n)
    st = wait_quiet(page, lambda s: n in first_seen(s["log"], "Finished"), quiet_s, limit_s)
    running, finished = first_seen(st["log"], "Running"), first_seen(st["log"], "Finished")
    return {
        "finished_n_ms": round(finished[n] - started, 1) if n in finished else None,
        "ended": st["ended"],
        "distinct_running": len(running),
        "distinct_finished": len(finished),
        "max_running": max(running, default=None),
        "max_finished": max(finished, default=None),
        "last_text": st["log"][-1][1] if st["log"] else None,
        "waited_s": round((st["now"] - started) / 1000, 1),
    }
