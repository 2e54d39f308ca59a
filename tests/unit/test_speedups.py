"""The workarounds in app/server/speedups/ replace private methods of one Panel and one
Bokeh version: they install on those, and this fails when either changes, so that each is
checked again against the new code."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

from app.server import speedups


def _printed_by(code: str) -> str:
    """What `code` prints, run in a Python process of its own (it must exit cleanly)."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_versions_they_were_written_for_are_the_ones_installed() -> None:
    assert (version("panel"), version("bokeh")) == (speedups.PANEL, speedups.BOKEH), (
        "Panel or Bokeh changed: check every workaround in app/server/speedups/ against the "
        "new code (and drop those the new version no longer needs), then update PANEL/BOKEH."
    )


def test_they_install_in_a_fresh_process() -> None:
    # In a process of its own: they change Panel for the whole process.
    code = (
        "from app.server import speedups; speedups.install(); "
        "import panel.io.document as d; print(d._dispatch_msgs.__module__)"
    )
    assert _printed_by(code).strip() == "app.server.speedups.clicks"


def test_page_resources_worked_out_once_are_those_panel_works_out() -> None:
    # In a process of its own: the speedups change Panel for the whole process.
    code = """
import panel as pn
import panel.io.server as server
from bokeh.document import Document
from bokeh.resources import Resources
from app.server import speedups

doc = Document()
doc.add_root(pn.Column(pn.widgets.Button(name="b"), pn.pane.HTML("x")).get_root(doc))
resources = server.Resources.from_bokeh(Resources(mode="server"))
fields = lambda b: (b.js_files, b.js_raw, b.css_files, b.css_raw, b.hashes, b.js_modules)
fresh = fields(server.bundle_resources(doc.roots, resources))
speedups.install()
first = server.bundle_resources(doc.roots, resources)
first.js_files.append("changed by one request")  # a request's copy is its own
again = server.bundle_resources(doc.roots, resources)
print(fields(first)[1:] == fresh[1:], fields(again) == fresh)
"""
    assert _printed_by(code).split() == ["True", "True"]


def test_data_models_are_tagged_as_panel_tags_them_without_a_walk_per_change() -> None:
    # A component whose data holds a nested component and a Parameterized (which Panel turns
    # into a data model of its own): after text changes and a change that brings a new
    # Parameterized, every data model carries the root's tag, as with Panel's own method; the
    # text changes walk no model graph.
    code = """
import panel as pn, param
from bokeh.document import Document
from bokeh.model import DataModel, Model
from panel.custom import Child, JSComponent
from app.server import speedups

class Part(param.Parameterized):
    size = param.Integer(default=1)

class Inner(JSComponent):
    text = param.String(default="")
    _esm = "export function render() {}"

class Outer(JSComponent):
    text = param.String(default="")
    part = param.ClassSelector(class_=Part)
    inner = Child()
    _esm = "export function render() {}"

def scenario():
    walks = []
    select = Model.select
    def counting(self, selector):
        walks.append(1)
        return select(self, selector)
    doc = Document()
    outer = Outer(part=Part(), inner=Inner())
    root = outer.get_root(doc)
    doc.add_root(root)
    Model.select = counting
    try:
        for n in range(3):
            outer.text = f"line {n}"
            outer.inner.text = f"inner {n}"
        text_walks = len(walks)
        outer.part = Part(size=2)
    finally:
        Model.select = select
    tags = sorted(
        (type(m).__name__, f"__ref:{root.ref['id']}" in m.tags)
        for m in doc.models if isinstance(m, DataModel)
    )
    return tags, text_walks

before, walks_before = scenario()
speedups.install()
after, walks_after = scenario()
print(before == after, all(tagged for _, tagged in after), walks_before > 0, walks_after)
"""
    assert _printed_by(code).split() == ["True", "True", "True", "0"]


def test_a_stopped_periodic_callback_lets_go_of_what_it_holds_at_once() -> None:
    # In a process of its own. Its own closures make a cycle, so a collection frees it, once
    # nothing else holds it: not its pending timer (60 s here, as good as forever), which did.
    code = """
import asyncio, gc, weakref
from bokeh.util.tornado import _AsyncPeriodic
from tornado.ioloop import IOLoop
from app.server import speedups

loop = IOLoop(make_current=False)
calls = []

async def started_and_stopped():
    periodic = _AsyncPeriodic(lambda: calls.append(1), 60_000, loop)
    periodic.start()
    await asyncio.sleep(0)
    periodic.stop()
    return weakref.ref(periodic)

async def settle():
    for _ in range(5):
        await asyncio.sleep(0)

def alive_after_stop():
    periodic = loop.run_sync(started_and_stopped)
    loop.run_sync(settle)
    gc.collect()
    return periodic() is not None

before = alive_after_stop()
speedups.install()
after = alive_after_stop()
print(before, after, calls)
"""
    assert _printed_by(code).split() == ["True", "False", "[]"]


def test_kept_property_defaults_read_and_serialize_as_bokeh_works_them_out() -> None:
    # In a process of its own. A page's worth of Bokeh and Panel models, read and serialized
    # before and after: the same JSON (ids aside; the data model classes' definitions
    # included, found once per class now); a container default is still each object's
    # own; a theme applied later still wins over a kept default. (Without the speedup in the
    # second half, the comparison also holds: ids and Panel's numbered names aside, a page's
    # JSON is the same every time.)
    code = """
import re
import panel as pn
from bokeh.core.json_encoder import serialize_json
from bokeh.document import Document
from bokeh.models import Plot, Range1d
from bokeh.plotting import figure
from bokeh.themes import Theme
from app.server import speedups

def page():
    doc = Document()
    plot = figure(height=200, x_axis_label="x")
    plot.line([0, 1], [1, 0])
    column = pn.Column(pn.widgets.IntSlider(name="n"), pn.pane.Bokeh(plot),
                       pn.pane.HTML("<p>x</p>"))
    doc.add_root(column.get_root(doc))
    text = serialize_json(doc.to_json())
    text = re.sub(r'"p[0-9]+"', '"id"', text)  # model ids...
    return re.sub(r'([A-Za-z]+)[0-9]{5}', r'\1', text), plot  # ...and Panel's numbered names

before, _ = page()
speedups.install()
page()  # the defaults are kept now
after, plot = page()
one, other = Range1d(), Range1d()
one.tags.append("mine")
doc = Document()
doc.add_root(Plot())
doc.theme = Theme(json={"attrs": {"Plot": {"width": 123}}})
print(before == after, other.tags == [], doc.roots[0].width)
"""
    assert _printed_by(code).split() == ["True", "True", "123"]


def test_stylesheets_are_pointed_at_the_server_as_panel_points_them() -> None:
    # In a process of its own: the stylesheet models of a page, after Panel's walk and after
    # the speedup's look through the document's models, under a path and without one.
    code = """
import panel as pn
import panel.io.server as server
from bokeh.document import Document
from bokeh.models import ImportedStyleSheet
from app.server import speedups

def page():
    doc = Document()
    column = pn.Column(pn.widgets.Button(name="b"), pn.widgets.IntSlider(), pn.pane.HTML("x"))
    doc.add_root(column.get_root(doc))
    doc.add_root(pn.Row(pn.widgets.TextInput()).get_root(doc))
    return doc

def urls(dist_url):
    doc = page()
    for root in doc.roots:
        server.patch_model_css(root, dist_url=dist_url)
    return sorted(m.url for m in doc.models if isinstance(m, ImportedStyleSheet))

before = [urls(d) for d in ("static/extensions/panel/", "../static/extensions/panel/")]
speedups.install()
after = [urls(d) for d in ("static/extensions/panel/", "../static/extensions/panel/")]
print(before == after, len(before[0]) > 3, before[0] != before[1])
"""
    assert _printed_by(code).split() == ["True", "True", "True"]
