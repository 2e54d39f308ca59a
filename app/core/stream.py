"""A random-walk source of points for the streaming plot."""

from __future__ import annotations

import numpy as np


class RandomWalk:
    """Points whose x continues by +1 from the last point and whose y is a random walk.

    `next_batch(n)` returns the next n points as a dict of columns, ready for
    `ColumnDataSource.stream`. The walk keeps only its last point, so it never grows.
    """

    def __init__(self, x: int = 0, y: float = 0.0, seed: int | None = None) -> None:
        self.last_x = int(x)
        self.last_y = float(y)
        self._rng = np.random.default_rng(seed)

    def next_batch(self, n: int) -> dict[str, list[float]]:
        if n < 1:
            raise ValueError(f"a batch needs at least one point, got {n}")
        xs = list(range(self.last_x + 1, self.last_x + n + 1))
        ys = (self.last_y + self._rng.standard_normal(n).cumsum()).tolist()
        self.last_x, self.last_y = xs[-1], ys[-1]
        return {"x": xs, "y": ys}
