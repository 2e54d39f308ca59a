"""A session's shell (app/server/session_shell.py): what an ending session owns besides its
build's objects, and never what the process shares."""

from __future__ import annotations

import param
from bokeh.document import Document

from app.server import session_shell
from app.server.session_heap import SessionHeaps


class Widget(param.Parameterized):
    value = param.Integer(default=0)


def module_level_function() -> None:
    """Shared by every session."""


ServerContextLike = type("BokehServerContext", (), {"__module__": "bokeh.server.contexts"})


def test_what_a_session_made_after_its_build_is_its_shell() -> None:
    later = {"rows": [1, 2]}  # made after the build, referred to by a built object
    counter = 0

    def tick() -> None:  # a closure made at run time
        nonlocal counter

    built = {"later": later, "callback": tick}
    found = session_shell.shell([built], roots=())
    ids = set(map(id, found))
    assert id(later) in ids and id(later["rows"]) in ids
    assert id(tick) in ids and id(tick.__closure__) in ids


def test_the_process_s_objects_are_never_a_session_s() -> None:
    shared = [module_level_function, Widget, Widget.param.value, globals(), ServerContextLike()]
    found = session_shell.shell([{"shared": shared}], roots=())
    ids = set(map(id, found))
    assert id(shared) in ids  # the list is the session's...
    assert not ids & {id(obj) for obj in shared}  # ...what it names is not


def test_an_instance_s_own_parameter_is_its_session_s() -> None:
    widget = Widget()
    widget.param.value.bounds = (0, 10)  # param makes the instance its own copy
    own = widget.param.value
    assert own is not Widget.param.value
    found = session_shell.shell([{"parameter": own}], roots=())
    assert id(own) in set(map(id, found))


def test_a_document_and_its_managers_come_from_the_roots() -> None:
    doc = Document()
    found = session_shell.shell([], roots=(doc,))
    ids = set(map(id, found))
    assert id(doc) in ids and id(doc.callbacks) in ids and id(doc.models) in ids
    assert id(doc.theme) not in ids  # the default theme is every document's


def test_what_the_build_made_is_left_to_its_heap() -> None:
    heaps, doc, made = SessionHeaps(), type("Doc", (), {})(), []
    heaps.build(doc, lambda: made.append({"built": [], "table": {}}))
    try:
        made[0]["later"] = later = ["made after the build"]
        found = session_shell.shell(heaps._held[next(iter(heaps._held))], roots=())
        ids = set(map(id, found))
        assert id(later) in ids
        assert not ids & {id(made[0]), id(made[0]["built"]), id(made[0]["table"])}
    finally:
        heaps.release_all()


def test_the_walk_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(session_shell, "MOST", 10)
    rows = [[index] for index in range(100)]
    assert len(session_shell.shell([{"rows": rows}], roots=())) == 10
