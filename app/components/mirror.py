"""One component's parameter shown by another's: a plain watcher, set from the start.

A Panel widget can be given `value=self.param.status` instead, and Panel keeps it current; but
a parameter reference brings Panel's and param's reference machinery along (watchers, a
resolver, and for `.rx` expressions a small graph of reactive objects), which every session
builds again. For a line of text one watcher does the same.
"""

from __future__ import annotations

import param


def mirror(
    source: param.Parameterized, name: str, target: object, attribute: str = "value"
) -> None:
    """Keep `target.<attribute>` equal to `source.<name>` from now on."""
    setattr(target, attribute, getattr(source, name))
    source.param.watch(lambda event: setattr(target, attribute, event.new), name)
