"""Background sessions for the benchmarks, without a browser: a small client that speaks the
Bokeh server protocol over the same websocket a browser tab opens, and drives real clicks.

A browser tab costs the benchmark machine far more CPU than the server spends on it (layout,
painting, BokehJS), so 100 Chromium tabs on 2 cores measure the browsers, not the server. This
client does what a tab does on the wire and no more: it loads the page over HTTP (the server
creates the session), opens the websocket with the page's token, pulls the document, says the
document is ready, and then sends the same PATCH-DOC messages BokehJS sends for a button click or
a widget change. The server cannot tell them apart from a browser's. It reads and counts every
message the server pushes, so a session that stopped receiving shows in the counts.

Like a browser, it sends each message with TCP_NODELAY on its socket (a protocol message is
several websocket frames: without it, Nagle's algorithm holds the second frame until the server
acknowledges the first, up to 40 ms with delayed ACKs, and every click would arrive late), keeps
the cookies the page response sets (a balancer's sticky cookie) for its websocket, and may speak
from a loopback address of its own (`source`), as distinct visitors do.

What it does not do: render, or echo back the range updates a browser's plot sends after new
points arrive (one small message per update, noted beside the figures).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

TOKEN = re.compile(r'"token":\s*"([^"]+)"')

# Buttons a Panel JSComponent draws itself: (attributes that find its model, the message its
# click sends, as read off a browser's frames).
COMPONENT_BUTTONS = {"Cancel all": ({"cancel_all": True}, {"cancel_all": True})}


def _map(data: dict) -> dict:
    """A dict as BokehJS serializes a plain object."""
    return {"type": "map", "entries": [[key, value] for key, value in data.items()]}


def _objects(node: Any) -> Iterator[dict]:
    """Every serialized Bokeh model in a document's JSON."""
    if isinstance(node, dict):
        if "attributes" in node and "id" in node:
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


@dataclass(frozen=True)
class Frames:
    """One protocol message as a browser's websocket received it, frame by frame."""

    header: dict
    content: str  # the content frame's JSON text
    size: int  # bytes of every frame: header, metadata, content, and each buffer's two


def messages_in_frames(frames: list[str | bytes]) -> list[Frames]:
    """The protocol messages in a list of websocket frames (as Playwright records them): a
    header, metadata and content frame each, then for each of the header's num_buffers a
    buffer header frame and a binary frame. Frames before the first header are skipped."""
    messages, i = [], 0
    while i + 2 < len(frames):
        try:
            header = json.loads(frames[i])
        except (TypeError, ValueError):
            i += 1
            continue
        if not isinstance(header, dict) or "msgtype" not in header:
            i += 1
            continue
        count = 3 + 2 * header.get("num_buffers", 0)
        parts = frames[i : i + count]
        content = parts[2] if isinstance(parts[2], str) else parts[2].decode(errors="replace")
        messages.append(Frames(header, content, sum(len(f) for f in parts)))
        i += count
    return messages


def stream_message_bytes(frames: list[str | bytes]) -> list[int]:
    """Sizes of the messages that stream points into a ColumnDataSource."""
    return [m.size for m in messages_in_frames(frames) if "ColumnsStreamed" in m.content]


@dataclass
class Counts:
    """What one session sent (`actions`) and received: messages in all, and those that carry
    `watch` (a text the session's activity should make the server send, such as "Running")."""

    messages: int = 0
    watched: int = 0
    actions: int = 0
    errors: list[str] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)  # messages received, by message type


class ProtocolSession:
    """One page session driven over the Bokeh protocol."""

    def __init__(
        self, base_url: str, path: str, watch: str | None = None,
        headers: dict[str, str] | None = None, source: str | None = None,
    ) -> None:  # fmt: skip
        self.base_url, self.path, self.watch = base_url, path, watch
        self.headers = headers or {}  # sent with the page request and the websocket's
        self.source = source  # the local address to connect from (None: the system's choice)
        self.token = ""
        self.counts = Counts()
        self._ws: WebSocketClientConnection | None = None
        self._models: list[dict] = []
        self._reader: asyncio.Task | None = None

    async def open(self) -> None:
        page = await AsyncHTTPClient().fetch(
            HTTPRequest(self.base_url + self.path, headers=self.headers,
                        network_interface=self.source)
        )  # fmt: skip
        self.token = token = TOKEN.search(page.body.decode()).group(1)
        cookies = [c.split(";", 1)[0] for c in page.headers.get_list("Set-Cookie")]
        if cookies:  # a balancer's sticky cookie: the websocket must reach the same replica
            self.headers = {**self.headers, "Cookie": "; ".join(cookies)}
        ws_url = self.base_url.replace("http", "ws", 1) + self.path + "/ws"
        request = HTTPRequest(
            ws_url, headers={"Origin": self.base_url, **self.headers},
            network_interface=self.source,
        )  # fmt: skip
        self._ws = await websocket_connect(
            request, subprotocols=["bokeh", token], max_message_size=50 * 2**20
        )
        self._ws.protocol.stream.set_nodelay(True)  # as a browser's socket: no Nagle delay
        await self._read_message()  # ACK
        await self._send("PULL-DOC-REQ", {})
        while True:  # the reply, after any message the server pushed first
            message = await self._read_message()
            if message is None:
                raise ConnectionError(f"{self.path}: the server closed the websocket")
            header, content = message
            if header["msgtype"] == "ERROR":
                raise ConnectionError(f"{self.path}: {content}")
            if header["msgtype"] == "PULL-DOC-REPLY":
                break
            self.counts.messages += 1
        self._models = list(_objects(json.loads(content)["doc"]))
        await self._send_event("document_ready", {"type": "map"})
        self._reader = asyncio.ensure_future(self._read_forever())

    def model_id(self, **attributes: Any) -> str:
        """The id of the one model whose attributes include these values."""
        for model in self._models:
            if all(model["attributes"].get(k) == v for k, v in attributes.items()):
                return model["id"]
        raise LookupError(f"no model with {attributes} on {self.path}")

    async def click(self, label: str) -> None:
        """A click on the button labelled `label`, as BokehJS sends it: a Bokeh button's click
        event, or the message of a component that draws the button itself (COMPONENT_BUTTONS:
        the live table's "Cancel all")."""
        if label in COMPONENT_BUTTONS:
            attributes, data = COMPONENT_BUTTONS[label]
            entries = [["model", {"id": self.model_id(**attributes)}], ["data", _map(data)]]
            name = "data_event"
        else:
            entries = [["model", {"id": self.model_id(label=label)}]]
            name = "button_click"
        self.counts.actions += 1
        await self._send_event(name, {"type": "map", "entries": entries})

    async def change(self, model_id: str, attr: str, value: Any) -> None:
        """A widget property changed in the browser (a slider moved, a toggle pressed)."""
        self.counts.actions += 1
        await self.send_events(
            [{"kind": "ModelChanged", "model": {"id": model_id}, "attr": attr, "new": value}]
        )

    async def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
        if self._reader is not None:
            await asyncio.wait([self._reader], timeout=5)

    # -- the wire ------------------------------------------------------------------------------
    async def _send(self, msgtype: str, content: dict) -> None:
        header = {"msgid": uuid.uuid4().hex.upper(), "msgtype": msgtype}
        for part in (header, {}, content):
            await self._ws.write_message(json.dumps(part))

    async def send_events(self, events: list[dict]) -> None:
        await self._send("PATCH-DOC", {"events": events})

    async def _send_event(self, name: str, values: dict) -> None:
        """A UI event (a click, the document being ready), wrapped as BokehJS wraps it."""
        msg_data = {"type": "event", "name": name, "values": values}
        await self.send_events(
            [{"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": msg_data}]
        )

    async def _read_message(self) -> tuple[dict, str] | None:
        """One protocol message: its header and its content's JSON text (metadata and binary
        buffers, a header frame and a payload frame each, are read past); None once closed."""
        frames = []
        while len(frames) < 3:
            frame = await self._ws.read_message()
            if frame is None:
                return None
            frames.append(frame)
        header = json.loads(frames[0])
        for _ in range(2 * header.get("num_buffers", 0)):
            if await self._ws.read_message() is None:
                return None
        return header, frames[2]

    async def _read_forever(self) -> None:
        try:
            while (message := await self._read_message()) is not None:
                header, content = message
                self.counts.messages += 1
                self.counts.kinds[header["msgtype"]] += 1
                if self.watch and self.watch in content:
                    self.counts.watched += 1
                if header["msgtype"] == "ERROR":
                    self.counts.errors.append(content[:200])
        except Exception as exc:  # kept in the counts, shown in the results
            self.counts.errors.append(f"reader stopped: {exc!r}")
