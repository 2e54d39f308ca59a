"""The benchmark report's arithmetic: message sizes read from websocket frames, samples pooled
over runs (benchmarks/figures.py)."""

from __future__ import annotations

import json

from benchmarks.figures import combine, summary
from benchmarks.protocol_client import stream_message_bytes


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


def test_summary_drops_measurements_that_never_came() -> None:
    assert summary([10.0, float("nan"), 30.0, 20.0])["median"] == 20.0
    assert summary([float("nan")]) == {"median": None, "p95": None, "n": 0, "values": []}


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
