"""The session registry: each session counted once, logged by a tag, ended once its tab is gone
(app/core/sessions.py)."""

from __future__ import annotations

import threading

from app.core.sessions import Outstanding, SessionRegistry


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Session:
    """A server session as the registry sees it: its websockets, and whether it was expired."""

    def __init__(self) -> None:
        self.sockets = 0
        self.expired = 0

    def connections(self) -> int:
        return self.sockets

    def expire(self) -> None:
        self.expired += 1


def test_the_registry_counts_each_session_once() -> None:
    registry = SessionRegistry()
    registry.opened("a", "home")
    registry.opened("a", "home")
    registry.opened("b", "threaded_queue")
    assert (registry.live, registry.total) == (2, 2)
    registry.closed("a")
    registry.closed("a")
    assert (registry.live, registry.total) == (1, 2)


def test_a_tag_is_short_stable_and_keyed() -> None:
    one, other = SessionRegistry(key=b"k1"), SessionRegistry(key=b"k2")
    session_id = "s3cr3t-session-id-that-grants-access"
    tag = one.tag(session_id)
    assert tag == one.tag(session_id) and len(tag) == 8
    assert session_id not in tag and tag != other.tag(session_id)


def test_a_closed_tab_is_ended_after_the_linger() -> None:
    clock = FakeClock()
    registry = SessionRegistry(linger=1.0, connect_timeout=15.0, clock=clock)
    session = Session()
    registry.opened("s", "async_callbacks", session)
    session.sockets = 1
    assert registry.sweep() == 0
    assert registry.connected == 1
    session.sockets = 0  # the tab closed
    clock.now += 0.5
    assert registry.sweep() == 0  # seen closed now: the linger starts
    clock.now += 0.9
    assert registry.sweep() == 0
    clock.now += 0.2
    assert registry.sweep() == 1 and session.expired == 1
    clock.now += 5
    assert registry.sweep() == 0 and session.expired == 1  # asked once


def test_a_reconnect_within_the_linger_keeps_the_session() -> None:
    clock = FakeClock()
    registry = SessionRegistry(linger=1.0, clock=clock)
    session = Session()
    registry.opened("s", "home", session)
    session.sockets = 1
    registry.sweep()
    session.sockets = 0
    registry.sweep()
    clock.now += 0.5
    session.sockets = 1
    registry.sweep()
    clock.now += 5
    assert registry.sweep() == 0 and session.expired == 0


def test_a_tab_closed_between_two_sweeps_is_ended_after_the_linger() -> None:
    clock = FakeClock()
    registry = SessionRegistry(linger=1.0, connect_timeout=15.0, clock=clock)
    session = Session()
    registry.opened("s", "async_callbacks", session)
    registry.attached("s")  # its websocket opened, and closed again before any sweep saw it
    assert registry.connected == 1 and registry.sweep() == 0
    clock.now += 1.0
    assert registry.sweep() == 1 and session.expired == 1  # not the 15-s connect timeout
    registry.attached("unknown")  # a session the registry does not hold: nothing happens


def test_a_page_that_never_connects_is_ended_after_the_connect_timeout() -> None:
    clock = FakeClock()
    registry = SessionRegistry(connect_timeout=15.0, clock=clock)
    session = Session()
    registry.opened("s", "home", session)
    clock.now += 14
    assert registry.sweep() == 0
    clock.now += 1
    assert registry.sweep() == 1 and session.expired == 1


def test_outstanding_calls_are_counted_until_done() -> None:
    calls = Outstanding()
    calls.add()
    calls.add()
    assert calls.count == 2 and not calls.wait_idle(0.01)
    threading.Timer(0.05, calls.done, args=(2,)).start()
    assert calls.wait_idle(5) and calls.count == 0
