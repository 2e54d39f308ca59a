"""A live table of a session's work items (jobs, tasks), each row with its own cancel button.

One browser-side component (a Panel JSComponent) draws every row and updates rows in place, so a
tick costs one small message and no new Bokeh models; a click on a row's "Cancel" comes back to
Python as a message carrying the row's id. Which columns it shows is set per use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import ClassVar

import panel as pn
import param


def seconds(value: float | None) -> str:
    """A duration as the tables show it."""
    return "—" if value is None else f"{value:.1f} s"


def timer(elapsed: float, running: bool) -> dict:
    """A cell the browser keeps counting while `running`, from `elapsed` seconds at sending:
    a clock that ticks without a message from the server."""
    return {"elapsed": round(elapsed, 2), "running": running}


class LiveTable(pn.custom.JSComponent):
    """Rows of work items, oldest first, with a cancel button per row.

    Each row is a dict with an int "id", a value per column key (a string, or a `timer(...)`
    the browser counts up itself), and optionally "progress" (0-100), "error" and
    "cancellable" (whether its Cancel button is enabled)."""

    caption = param.String(default="", doc="The table's caption.")
    item = param.String(default="item", doc="What a row is, for labels: 'job', 'task'.")
    columns = param.List(default=[], doc="[key, title] pairs of the text columns.")
    progress = param.Boolean(default=False, doc="Whether rows have a progress bar.")
    empty_text = param.String(default="Nothing yet.")
    count_running = param.Boolean(
        default=False, doc="Show '<n> <item>s running' above the rows, counted in the browser."
    )
    # The rows travel as one JSON string: Bokeh walks a list of dicts value by value looking
    # for models to sync, which cost a busy server more than the rest of an update (py-spy).
    rows_json = param.String(default="[]", doc="The rows, one object per item, as JSON.")

    _esm = """
    export function render({ model }) {
      const columns = model.columns.map(([key]) => key);
      const escape = (s) => String(s).replace(/[&<>"]/g, (c) => ({
        "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
      const item = escape(model.item);
      const table = document.createElement("table");
      table.className = "live";
      const heads = model.columns.map(([, title]) => `<th scope="col">${escape(title)}</th>`);
      table.innerHTML = `<caption>${escape(model.caption)}</caption><thead><tr>` +
        `<th scope="col">${item[0].toUpperCase() + item.slice(1)}</th>${heads.join("")}` +
        (model.progress ? `<th scope="col">Progress</th>` : "") +
        `<th scope="col"><span class="visually-hidden">Cancel</span></th></tr></thead>`;
      const body = document.createElement("tbody");
      table.appendChild(body);
      const empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = model.empty_text;
      const count = document.createElement("p");
      count.className = "count";
      const rows = new Map();
      // Running timers: cell -> [seconds when received, performance.now() then].
      const timers = new Map();
      const seconds = (value) => `${value.toFixed(1)} s`;
      let ticking = null;
      function tick() {
        const now = performance.now();
        for (const [cell, [base, at]] of timers) {
          cell.textContent = seconds(base + (now - at) / 1000);
        }
        if (!timers.size) { clearInterval(ticking); ticking = null; }
      }
      model.on("remove", () => clearInterval(ticking));

      function makeRow(id) {
        const tr = document.createElement("tr");
        tr.className = `${item}-row`;
        tr.dataset.id = id;
        tr.innerHTML = `<th scope="row" class="row-id">#${id}</th>` +
          columns.map(c => `<td class="${c}"></td>`).join("") +
          (model.progress ? `<td><progress max="100" aria-label="Progress of ${item} ${id}">` +
                            `</progress><div class="error"></div></td>` : "") +
          `<td><button type="button" aria-label="Cancel ${item} ${id}">Cancel</button></td>`;
        tr.querySelector("button").addEventListener("click", () => {
          model.send_msg({ cancel: id });
        });
        return tr;
      }

      function draw() {
        const seen = new Set();
        const shown = JSON.parse(model.rows_json);
        for (const row of shown) {
          seen.add(row.id);
          let tr = rows.get(row.id);
          if (!tr) {
            tr = makeRow(row.id);
            rows.set(row.id, tr);
          }
          body.appendChild(tr);  // keeps rows in the order given
          for (const c of columns) {
            const cell = tr.querySelector(`.${c}`), value = row[c];
            if (value !== null && typeof value === "object") {  // a timer
              cell.textContent = seconds(value.elapsed);
              if (value.running) timers.set(cell, [value.elapsed, performance.now()]);
              else timers.delete(cell);
            } else {
              cell.textContent = value;
              timers.delete(cell);
            }
          }
          if (row.state !== undefined) tr.querySelector(".state").dataset.state = row.state;
          if (model.progress) {
            tr.querySelector("progress").value = row.progress ?? 0;
            tr.querySelector(".error").textContent = row.error ?? "";
          }
          tr.querySelector("button").disabled = !row.cancellable;
        }
        for (const [id, tr] of rows) {
          if (!seen.has(id)) {
            for (const cell of tr.querySelectorAll("td")) timers.delete(cell);
            tr.remove();
            rows.delete(id);
          }
        }
        empty.hidden = shown.length > 0;
        const running = shown.filter((row) => row.state === "running").length;
        count.textContent = `${running} ${item}${running === 1 ? "" : "s"} running`;
        if (timers.size && ticking === null) ticking = setInterval(tick, 100);
      }

      model.on("rows_json", draw);
      const wrapper = document.createElement("div");
      wrapper.append(table, empty);
      if (model.count_running) wrapper.prepend(count);
      draw();
      return wrapper;
    }
    """

    _stylesheets: ClassVar[list[str]] = [
        """
        table.live { border-collapse: collapse; font-variant-numeric: tabular-nums; }
        table.live caption { text-align: left; font-weight: 600; font-size: 1.15em;
                             padding: 0.3em 0; }
        table.live th, table.live td { text-align: left; padding: 0.3em 0.8em 0.3em 0; }
        table.live thead th { border-bottom: 1px solid rgba(0,0,0,0.2); }
        table.live progress { width: 140px; }
        td.state[data-state="done"], td.state[data-state="finished"] { color: #2e7d32; }
        td.state[data-state="failed"], .error { color: #b00020; }
        td.state[data-state="cancelled"] { color: #666; }
        .error { font-size: 0.85em; max-width: 22em; }
        .empty { color: #555; font-style: italic; }
        .count { margin: 0.4em 0; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
                           clip: rect(0 0 0 0); white-space: nowrap; }
        """
    ]

    def __init__(self, on_cancel: Callable[[int], None], **params) -> None:
        super().__init__(**params)
        self._on_cancel = on_cancel

    @property
    def rows(self) -> list[dict]:
        """The rows shown."""
        return json.loads(self.rows_json)

    def show(self, rows: list[dict]) -> None:
        """Show these rows; nothing is sent if they are what is shown already."""
        payload = json.dumps(rows, separators=(",", ":"))
        if payload != self.rows_json:
            self.rows_json = payload

    def _handle_msg(self, msg: dict) -> None:
        item_id = msg.get("cancel") if isinstance(msg, dict) else None
        if isinstance(item_id, int):
            self._on_cancel(item_id)
