"""A short soak (`make soak` is the long one): sessions on every page clicking, streaming,
launching and cancelling, tabs churning; every job balances, nothing leaks (benchmarks/soak.py)."""

from __future__ import annotations

import pytest

from benchmarks.soak import run


@pytest.mark.own_server
def test_a_short_soak_balances() -> None:
    result = run(seconds=20, sessions=30)
    print(result.line())
    assert result.failures == []
    assert result.jobs > 0 and result.churned > 0 and result.actions > 100
