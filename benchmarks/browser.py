"""In-page timing for the benchmarks: from a real click to a text appearing, measured by the
browser's own clock (performance.now), so Playwright's round trips are not counted."""

from __future__ import annotations

from playwright.sync_api import Page

# Marks the time of every pointer press, in the capture phase, before the app sees it.
INSTALL_CLICK_CLOCK = """() => {
    window.__clickedAt = null;
    window.addEventListener('pointerdown', () => { window.__clickedAt = performance.now(); }, true);
}"""

# Resolves with ms from the last press until `pattern` is in the page's text (shadow DOM too),
# checked every millisecond or so; with null after 60 s.
MS_UNTIL_TEXT = """([pattern, atLeast]) => new Promise(resolve => {
    const giveUp = performance.now() + 60000;
    const re = new RegExp(pattern);
    const text = (node) => {
        let out = '';
        if (node.shadowRoot) out += text(node.shadowRoot);
        for (const child of node.childNodes) {
            out += child.nodeType === 3 ? child.textContent : text(child);
        }
        return out;
    };
    const check = () => {
        const found = re.exec(text(document.body));
        // With atLeast, the pattern's first group is a number that must be at least that.
        if (found && (atLeast === null || Number(found[1]) >= atLeast)) {
            resolve([performance.now() - window.__clickedAt, found[1] ?? null]);
        }
        else if (performance.now() > giveUp) resolve(null);
        else setTimeout(check, 1);
    };
    check();
})"""


def install_click_clock(page: Page) -> None:
    page.evaluate(INSTALL_CLICK_CLOCK)


def ms_from_click_until(page: Page, pattern: str, at_least: int | None = None) -> float:
    """Milliseconds from the last click in `page` until `pattern` shows (call right after it).
    With `at_least`, the pattern's first group must be a number no smaller than it."""
    found = page.evaluate(MS_UNTIL_TEXT, [pattern, at_least])
    if found is None:
        raise TimeoutError(f"{pattern!r} did not show within 60 s of the click")
    return float(found[0])
