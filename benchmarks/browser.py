"""In-page timing for the benchmarks: from a real click to a text appearing, measured by the
browser's own clock (performance.now), so Playwright's round trips are not counted.

A text is seen the moment the server's message sets it on the page's Bokeh model: the page's
views, connected to the same change signal before the watcher, have already written it into the
DOM by then. Watching the models' change signals costs the page nothing between changes, where
reading the whole DOM every millisecond would cost the page (and the 2-core machine the server
shares) more the bigger the page is.
"""

from __future__ import annotations

from playwright.sync_api import Page

# Marks the time of every pointer press, in the capture phase, before the app sees it.
INSTALL_CLICK_CLOCK = """() => {
    window.__clickedAt = null;
    window.addEventListener('pointerdown', () => { window.__clickedAt = performance.now(); }, true);
}"""

# Resolves with [performance.now(), the pattern's first group] once a model's `text` matches
# `pattern` (with atLeast: and its first group, a number, is at least that); null after 60 s.
WHEN_TEXT = """([pattern, atLeast]) => new Promise(resolve => {
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
    giveUp = setTimeout(() => finish(null), 60000);
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


def when_text(page: Page, pattern: str, at_least: int | None = None) -> float:
    """The page's performance.now() when a text matching `pattern` showed. With `at_least`,
    the pattern's first group must be a number no smaller than it."""
    found = page.evaluate(WHEN_TEXT, [pattern, at_least])
    if found is None:
        raise TimeoutError(f"{pattern!r} did not show within 60 s")
    return float(found[0])


def ms_from_click_until(page: Page, pattern: str, at_least: int | None = None) -> float:
    """Milliseconds from the last click in `page` until `pattern` shows (call right after it)."""
    shown = when_text(page, pattern, at_least)
    return shown - page.evaluate("() => window.__clickedAt")
