"""One line per visitor (or kind of line) a minute, with a count of the rest."""

from __future__ import annotations

import logging

import pytest

from app.core.refusals import OncePerWindow, RefusalLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_first_of_each_key_goes_through_and_the_rest_are_counted_for_the_next() -> None:
    clock = Clock()
    once = OncePerWindow(window=60.0, clock=clock)
    assert once.let_through("a") == 0
    assert [once.let_through("a") for _ in range(3)] == [None, None, None]
    assert once.let_through("b") == 0  # each key on its own
    clock.now = 60.0
    assert once.let_through("a") == 3  # the next window's first, with the three held back
    assert once.let_through("a") is None


def test_the_table_of_keys_is_bounded() -> None:
    once = OncePerWindow(window=60.0, max_keys=2, clock=Clock())
    for key in ("a", "b", "c"):
        assert once.let_through(key) == 0
    assert once.let_through("c") is None and once.let_through("b") is None
    assert once.let_through("a") == 0  # forgotten: it starts again


def test_a_refusal_is_one_warning_a_minute_per_visitor(caplog: pytest.LogCaptureFixture) -> None:
    refusals = RefusalLog()
    with caplog.at_level(logging.WARNING, logger="app.refused"):
        assert refusals.refused("client 1", "a login with a wrong password")
        assert not refusals.refused("client 1", "a login with a wrong password")
        assert refusals.refused("client 2", "a websocket")
    assert [r.getMessage() for r in caplog.records] == [
        "refused from client 1: a login with a wrong password",
        "refused from client 2: a websocket",
    ]
