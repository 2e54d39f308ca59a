"""The benchmark suite's arithmetic (benchmarks/stats.py) and the message sizes it reads from
websocket frames (benchmarks/protocol_client.py)."""

from __future__ import annotations

import json

from benchmarks.protocol_client import stream_message_bytes
from benchmarks.stats import combine, p95_counting_misses, percentile, summary


def _message(msgtype: str, content: dict, buffers: list[bytes] = ()) -> list[str | bytes]:
    header = {"msgid": "1", "msgtype": msgtype}
    if buffers:
        header["num_buffers"] = len(buffers)
    frames: list[str | bytes] = [json.dumps(header), "{}", json.dumps(content)]
    for i, payload in enumerate(buffers):
        frames += [json.dumps({"id": str(i)}), payload]
    return frames


def test_stream_message_size_counts_every_buffer_frame() -> None:
    streamed = _message("PATCH-DOC", {"events": [{"kind": "ColumnsStreamed"}]}, [b"x" * 40] * 2)
    frames = [
        *_message("PATCH-DOC", {"events": [{"kind": "ModelChanged"}]}, [b"y" * 80]),
        *streamed,
        *_message("PATCH-DOC", {"events": [{"kind": "ModelChanged"}]}),
    ]
    assert stream_message_bytes(frames) == [sum(len(f) for f in streamed)]


def test_the_percentile_is_a_value_of_the_sample_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 0.95) == 19.0
    assert percentile(values, 0.5) == 11.0
    assert percentile([], 0.95) is None


def test_summary_drops_measurements_that_never_came() -> None:
    assert summary([10.0, float("nan"), 30.0, 20.0])["median"] == 20.0
    assert summary([float("nan")]) == {"median": None, "p95": None, "n": 0, "values": []}


def test_a_missed_measurement_counts_as_infinitely_late() -> None:
    twenty = [10.0] * 19
    assert p95_counting_misses(twenty, 1) == 10.0  # one miss in 20: the p95 is the 19th
    assert p95_counting_misses(twenty[:7], 1) is None  # one in 8: the p95 falls on it
    assert p95_counting_misses([], 0) is None


def test_runs_are_pooled_and_their_medians_kept() -> None:
    runs = [
        {"fig": {"app": {**summary([1.0, 2.0, 3.0]), "lost": 0}}, "threads": [{"open": 4}]},
        {"fig": {"app": {**summary([7.0, 8.0, 9.0]), "lost": 2}}, "threads": [{"open": 6}]},
    ]
    combined = combine(runs)
    app = combined["fig"]["app"]
    assert app["n"] == 6 and app["median"] == 5.0  # statistics.median of the pooled six
    assert app["run_medians"] == [2.0, 8.0]
    assert app["lost"] == 1  # other numbers: their median over runs
    assert combined["threads"] == [{"open": 5}]


def test_a_part_measured_in_the_first_run_only_is_kept() -> None:
    runs = [
        {"queue": {"threads": summary([20.0]), "dask": summary([60.0])}, "capacity": {"held": 50}},
        {"queue": {"threads": summary([30.0])}},
        {"queue": {"threads": summary([40.0])}},
    ]
    combined = combine(runs)
    assert combined["queue"]["threads"]["run_medians"] == [20.0, 30.0, 40.0]
    assert combined["queue"]["dask"]["median"] == 60.0
    assert combined["capacity"] == {"held": 50}
