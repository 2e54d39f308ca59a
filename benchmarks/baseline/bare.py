"""Baseline for page-load time: a bare one-widget Panel page."""

import panel as pn

pn.widgets.Button(name="Click me!").servable()
