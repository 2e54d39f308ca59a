"""The browser-side components' modules: served as files in a server's session, inline under
`--dev` (autoreload) and outside a server."""

from __future__ import annotations

import panel as pn
import pytest

from app.components.browser_component import BrowserComponent
from app.components.live_table import LiveTable
from app.components.template import PageTemplate
from app.components.text_line import TextLine

COMPONENTS = [TextLine, LiveTable, PageTemplate]


def test_every_browser_component_is_listed_here() -> None:
    assert set(BrowserComponent.__subclasses__()) == set(COMPONENTS)


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_a_session_gets_the_module_by_url(component: type[BrowserComponent]) -> None:
    url = component._render_esm(True, server=True)
    assert url == (
        f"./components/{component.__module__}/{component.__name__}/_bundle_path/"
        f"{component._esm.name}"
    )
    assert component._bundle_path == component._esm
    assert component._esm.is_file()
    assert not component._bundle_css  # its stylesheet is inlined, not imported a second time


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_dev_mode_and_no_server_get_the_source(component: type[BrowserComponent]) -> None:
    source = component._esm.read_text()
    assert "export function render" in source
    assert component._render_esm(True, server=False).strip() == source.strip()
    with pn.config.set(autoreload=True):
        assert component._bundle_path is None
        assert component._render_esm(False, server=True).strip() == source.strip()
