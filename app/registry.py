"""The one registry of pages: it feeds the sidebar, the home page, the serve command, the tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Page:
    """A page of the app: where it is served and how it is introduced."""

    slug: str  # URL path segment; "" is the home page
    title: str
    icon: str  # a symbol shown before the title (one that common fonts have)
    summary: str  # one or two sentences: what the pattern is for
    script: Path

    @property
    def href(self) -> str:
        # Relative links keep working behind a reverse proxy or with --prefix:
        # every page is served at the same level as the home page.
        return f"./{self.slug}"

    @property
    def app_name(self) -> str:
        """The name `panel serve` gives the app: the script's file name without .py."""
        return self.script.stem


HOME = Page(
    slug="",
    title="Home",
    icon="⌂",
    summary="What each concurrency pattern is for, and where to see it.",
    script=APP_DIR / "pages" / "home.py",
)

DEMOS: tuple[Page, ...] = (
    Page(
        slug="async_callbacks",
        title="Async callbacks",
        icon="⟳",
        summary=(
            "An async callback awaits slow I/O without blocking the server: every click starts "
            "its own task, many run at once, and the page never freezes."
        ),
        script=APP_DIR / "pages" / "async_callbacks.py",
    ),
    Page(
        slug="bokeh_streaming",
        title="Bokeh streaming",
        icon="∿",
        summary=(
            "An async callback streams new points into a Bokeh plot under the document lock "
            "(pn.io.with_lock), sending only the new points to the browser."
        ),
        script=APP_DIR / "pages" / "bokeh_streaming.py",
    ),
    Page(
        slug="threaded_queue",
        title="Threaded queue",
        icon="☰",
        summary=(
            "Blocking or CPU-heavy work goes to a bounded queue worked by background threads, "
            "with live status, while the page stays responsive."
        ),
        script=APP_DIR / "pages" / "threaded_queue.py",
    ),
)

PAGES: tuple[Page, ...] = (HOME, *DEMOS)


def page_for(slug: str) -> Page:
    """The registered page with this slug."""
    for page in PAGES:
        if page.slug == slug:
            return page
    raise KeyError(f"no page registered with slug {slug!r}")
