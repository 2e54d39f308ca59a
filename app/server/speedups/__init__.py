"""Contained workarounds for costs inside Panel 1.9.4 and Bokeh 3.9.2, found by profiling.

Each was measured with py-spy on the server while 100 clicks arrived at once on the async page
(before: 5.4 ms of server CPU per click event; with all of them: 1.3-1.5 ms) and while sessions
were built; each replaces one private method of the pinned versions and says why beside it.
tests/unit/test_speedups.py fails if Panel or Bokeh change version, so that every one is
checked again then; the end-to-end suite and the soak run with all of them on.

- clicks.py: a click's round trip and the updates of open pages;
- builds.py: a page's build and its first serialization;
- callbacks.py: a session's periodic callbacks.
"""

from __future__ import annotations

from app.server.speedups.builds import (
    cached_property_defaults,
    cheap_config_set,
    data_model_classes_known_once,
    no_document_validation,
    no_error_diagnostics,
    one_graph_walk_per_template,
    page_resources_once,
    stylesheets_found_in_the_documents_models,
    unvalidated_page_builds,
)  # fmt: skip
from app.server.speedups.callbacks import stopped_periodic_callbacks_let_go
from app.server.speedups.clicks import (
    button_triggers_value_only_when_watched,
    datamodel_tags_only_for_new_models,
    no_busy_counter_without_indicators,
    one_writer_per_document,
    quiet_panel_logger,
    theme_lookup_only_when_needed,
)  # fmt: skip

PANEL = "1.9.4"
BOKEH = "3.9.2"

ALL = (
    quiet_panel_logger,
    theme_lookup_only_when_needed,
    no_busy_counter_without_indicators,
    button_triggers_value_only_when_watched,
    one_writer_per_document,
    one_graph_walk_per_template,
    cheap_config_set,
    no_document_validation,
    no_error_diagnostics,
    unvalidated_page_builds,
    page_resources_once,
    stylesheets_found_in_the_documents_models,
    datamodel_tags_only_for_new_models,
    stopped_periodic_callbacks_let_go,
    cached_property_defaults,
    data_model_classes_known_once,
)


def install() -> None:
    for speedup in ALL:
        speedup()
