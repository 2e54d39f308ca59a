"""In-page timing for the benchmarks: from a real click to a text appearing, measured by the
browser's own clock (performance.now), so Playwright's round trips are not counted.

A text is seen the moment the server's message sets it on the page's Bokeh model: the page's
views, connected to the same change signal before the watcher, have already written it into the
DOM by then. Watching the models' change signals costs the page nothing between changes, where
reading the whole DOM every millisecond would cost the page (and the 2-core machine the server
shares) more the bigger the page is.
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page

# Marks the time of every pointer press, in the capture phase, before the app sees it, and
# counts them (once per page, however often it is called).
INSTALL_CLICK_CLOCK = """() => {
    if (window.__clicks !== undefined) return;
    window.__clickedAt = null;
    window.__clicks = 0;
    window.addEventListener('pointerdown', () => {
        window.__clickedAt = performance.now();
        window.__clicks += 1;
    }, true);
}"""

# Resolves with [performance.now(), the pattern's first group] once a model's `text` matches
# `pattern` (with atLeast: and its first group, a number, is at least that); null after
# `timeoutMs`.
WHEN_TEXT = """([pattern, atLeast, timeoutMs]) => new Promise(resolve => {
    const re = new RegExp(pattern);
    const watched = [];
    let giveUp = null;
    const finish = (result) => {
        clearTimeout(giveUp);
        for (const [model, slot] of watched) model.change.disconnect(slot);
        resolve(result);
    };
    const check = (model) => {
        const found = typeof model.text === 'string' ? re.exec(model.text) : null;
        if (found && (atLeast === null || Number(found[1]) >= atLeast)) {
            finish([performance.now(), found[1] ?? null]);
            return true;
        }
        return false;
    };
    giveUp = setTimeout(() => finish(null), timeoutMs);
    for (const model of window.Bokeh.documents[0].all_models) {
        if (!model.properties || !('text' in model.properties)) continue;
        if (check(model)) return;
        const slot = () => check(model);
        model.change.connect(slot);
        watched.push([model, slot]);
    }
})"""


def install_click_clock(page: Page) -> None:
    page.evaluate(INSTALL_CLICK_CLOCK)


def when_text(
    page: Page, pattern: str, at_least: int | None = None, timeout: float = 60.0
) -> float:
    """The page's performance.now() when a text matching `pattern` showed. With `at_least`,
    the pattern's first group must be a number no smaller than it."""
    found = page.evaluate(WHEN_TEXT, [pattern, at_least, timeout * 1000])
    if found is None:
        raise TimeoutError(f"{pattern!r} did not show within {timeout:g} s")
    return float(found[0])


def ms_from_click_until(
    page: Page, pattern: str, at_least: int | None = None, timeout: float = 60.0
) -> float:
    """Milliseconds from the last click in `page` until `pattern` shows (call right after it)."""
    shown = when_text(page, pattern, at_least, timeout)
    return shown - page.evaluate("() => window.__clickedAt")


# Finds a button by its label (its textContent: some frameworks restyle the visible text)
# anywhere in the page, shadow DOM included.
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

def click_and_time(page: Page, click: Callable[[], None], pattern: str, timeout: float) -> float:
    """Milliseconds from a click (`click()`) until a text matching `pattern` shows, its first
    group a number at least the count of the page's clicks so far, this one included (a page
    whose counter follows its clicks, after install_click_clock). The watch starts before the
    click: a watch started after it could miss a text that showed and was replaced (e.g.
    "Running 7" by an earlier task's "Finished 4") in the few ms in between."""
    page.evaluate(f"""(args) => {{
        args[1] = window.__clicks + 1;
        window.__textWatch = ({WHEN_TEXT})(args);
    }}""", [pattern, None, timeout * 1000])  # fmt: skip
    click()
    found = page.evaluate("() => window.__textWatch")
    if found is None:
        raise TimeoutError(f"{pattern!r} did not show within {timeout:g} s")
    return float(found[0]) - page.evaluate("() => window.__clickedAt")


# Clicks it `times` times in one task; returns when it started, by the page's clock.
CLICK_BUTTON = f"""([label, times]) => {{
    const button = ({FIND_BUTTON})(label);
    const started = performance.now();
    for (let i = 0; i < times; i++) button.click();
    return started;
}}"""


def click_times(page: Page, label: str, times: int) -> float:
    """Click the button labelled `label` `times` times at once (one JavaScript loop, as fast
    as the page takes them); the page's performance.now() at the first click."""
    return float(page.evaluate(CLICK_BUTTON, [label, times]))
