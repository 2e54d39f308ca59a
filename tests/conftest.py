"""Options and markers of the whole suite."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--serve-mode", choices=("default", "threads"), default="default",
        help="serve the app as make serve does (default) or with --num-threads 2 (threads)",
    )  # fmt: skip
    parser.addoption(
        "--screenshots", action="store_true",
        help="refresh docs/screenshots/ from the pages the tests visit (make screenshots)",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "own_server: starts servers of its own (run once, not per serve mode)"
    )
