"""What else belongs to an ending session, besides what its page script built.

A session's heap (app/server/session_heap.py) holds what its build made. Around it are objects
made before the build (its Document and the Document's managers, its session context) and
after it (its server session and the callbacks Bokeh wrapped for it, closures of its periodic
callbacks, parameters param made for a widget on first use, the (model, property) pairs Bokeh
records the first time a property's default is read). By the time the session ends they are in
the oldest generation, and a young collection counts a reference from an old object as a
reference from outside: one of them pointing into the session keeps the whole session alive
until the next full collection, which then walks every live session too.

`shell(held, roots)` finds them, just before Bokeh tears the session down: the objects that the
session's own objects (and the given roots: its server session, Document and context) refer to,
and what those refer to in turn, keeping to what a session can own: plain containers,
closures and bound methods, per-instance parameters, and the Bokeh objects of a document and
its server session. Never a module's namespace, a class, a module-level function, a class's
parameter, nor the server's or the application's context.
"""

from __future__ import annotations

import collections
import functools
import gc
import types
from collections.abc import Iterable

import param

MOST = 20_000  # a bound on the walk: a session's shell is a few hundred objects

_CONTAINERS = (dict, list, tuple, set, frozenset, collections.deque)
_PLAIN = (*_CONTAINERS, collections.defaultdict, types.CellType, types.MethodType,
          functools.partial)  # fmt: skip
# Bokeh's per-session objects live in these modules; of their classes, these two are the
# server's and the application's, shared by every session.
_SESSION_MODULES = ("bokeh.document", "bokeh.server.session", "bokeh.server.callbacks",
                    "bokeh.util.tornado", "bokeh.server.contexts")  # fmt: skip
_SHARED = frozenset({"BokehServerContext", "ApplicationContext"})


def shell(held: list, roots: Iterable[object]) -> list:
    """The tracked objects around a session's `held` objects (which are untracked), reached
    from them and from `roots`, that a session can own (at most MOST)."""
    held_ids = set(map(id, held))
    seen: set[int] = set()
    found: list = []
    # Most of what held objects refer to is held too, or untracked (strings, numbers): those
    # are dropped here, at C speed, before the walk looks at each of the rest.
    todo = [r for r in filter(gc.is_tracked, gc.get_referents(*held))
            if id(r) not in held_ids and not _namespace(r)]  # fmt: skip
    todo.extend(roots)
    while todo and len(found) < MOST:
        obj = todo.pop()
        key = id(obj)
        if key in held_ids or key in seen or not gc.is_tracked(obj):
            continue
        seen.add(key)
        if _owned(obj):
            found.append(obj)
            todo.extend(_inside(obj))
    return found


def _namespace(obj: object) -> bool:
    return isinstance(obj, dict) and ("__builtins__" in obj or "__loader__" in obj)


def _owned(obj: object) -> bool:
    """Whether `obj` is of a kind a session owns (as opposed to the process)."""
    if isinstance(obj, types.FunctionType):
        return "<locals>" in obj.__qualname__  # a closure made at run time
    if isinstance(obj, param.Parameter):
        return not isinstance(obj.owner, type)  # an instance's own copy
    if isinstance(obj, _PLAIN):
        return not _namespace(obj)
    kind = type(obj)
    return kind.__module__.startswith(_SESSION_MODULES) and kind.__name__ not in _SHARED


def _inside(obj: object) -> list:
    """What `obj` refers to that may belong to the session too."""
    if isinstance(obj, types.FunctionType):
        return [obj.__closure__, obj.__defaults__, obj.__kwdefaults__]  # not its globals
    if isinstance(obj, types.MethodType):
        return [obj.__self__]
    if isinstance(obj, param.Parameter):
        return []
    if type(obj) in _CONTAINERS:
        return list(obj.values()) + list(obj) if isinstance(obj, dict) else list(obj)
    return gc.get_referents(obj)  # a subclass's attributes too (Bokeh's property containers)
