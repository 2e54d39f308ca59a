// The live table of a session's work items (jobs, tasks): one row per item, updated in place.
// Rows arrive as one JSON string (model.rows_json); running timers are counted here, so a
// ticking clock costs the server nothing. When the connection to the server is lost, every
// unfinished row is marked "lost", its clock stops and its Cancel button is disabled: the page
// no longer says "running" about work it cannot hear of.

const escape = (s) => String(s).replace(/[&<>"]/g, (c) => ({
  "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

const seconds = (value) => `${value.toFixed(1)} s`;

export function render({ model }) {
  const columns = model.columns.map(([key]) => key);
  const item = escape(model.item);
  const table = document.createElement("table");
  table.className = "live";
  const heads = model.columns.map(([, title]) => `<th scope="col">${escape(title)}</th>`);
  table.innerHTML = `<caption>${escape(model.caption)}</caption><thead><tr>` +
    `<th scope="col">${item[0].toUpperCase() + item.slice(1)}</th>${heads.join("")}` +
    (model.progress ? `<th scope="col">Progress</th>` : "") +
    `<th scope="col"><span class="visually-hidden">Note</span></th>` +
    `<th scope="col"><span class="visually-hidden">Cancel</span></th></tr></thead>`;
  const body = document.createElement("tbody");
  table.appendChild(body);
  const empty = document.createElement("p");
  empty.className = "empty";
  empty.textContent = model.empty_text;
  const count = document.createElement("p");
  count.className = "count";
  // Lines above the rows: about the whole, and why the last action did nothing or failed.
  const summary = document.createElement("p");
  summary.className = "summary";
  const warning = document.createElement("p");
  warning.className = "notice warning";
  warning.setAttribute("role", "status");
  const error = document.createElement("p");
  error.className = "notice error";
  error.setAttribute("role", "alert");
  function showLine(node, text) {
    node.textContent = text;
    node.hidden = !text;
  }
  const cancelAll = document.createElement("button");
  cancelAll.type = "button";
  cancelAll.className = "cancel-all";
  cancelAll.textContent = "Cancel all";
  cancelAll.addEventListener("click", () => {
    if (!lost) model.send_msg({ cancel_all: true });
  });
  const rows = new Map();
  // Running timers: cell -> [seconds when received, performance.now() then].
  const timers = new Map();
  let ticking = null;
  let lost = false;

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
    // The "why" cell says why an item ended as it did: an error (failed) or a note
    // (cancelled by the server, lost); it is empty, and shows nothing, otherwise.
    tr.innerHTML = `<th scope="row" class="row-id">#${id}</th>` +
      columns.map(c => `<td class="${c}"></td>`).join("") +
      (model.progress ? `<td><progress max="100" aria-label="Progress of ${item} ${id}">` +
                        `</progress></td>` : "") +
      `<td class="why-cell"><span class="why" hidden></span></td>` +
      `<td><button type="button" aria-label="Cancel ${item} ${id}">Cancel</button></td>`;
    tr.querySelector("button").addEventListener("click", () => {
      if (!lost) model.send_msg({ cancel: id });
    });
    return tr;
  }

  function showWhy(tr, text, isError) {
    const why = tr.querySelector(".why");
    if (!why) return;
    why.textContent = text || "";
    why.hidden = !text;
    why.classList.toggle("error", Boolean(isError));
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
        const cell = tr.querySelector(`td.${c}`), value = row[c];
        if (value !== null && typeof value === "object") {  // a timer
          cell.textContent = seconds(value.elapsed);
          if (value.running) timers.set(cell, [value.elapsed, performance.now()]);
          else timers.delete(cell);
        } else {
          cell.textContent = value;
          timers.delete(cell);
        }
      }
      tr.dataset.cancellable = row.cancellable ? "yes" : "no";
      if (row.state !== undefined) tr.querySelector(".state").dataset.state = row.state;
      showWhy(tr, row.error || row.note, Boolean(row.error));
      if (model.progress) tr.querySelector("progress").value = row.progress ?? 0;
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
    cancelAll.disabled = lost || !shown.some((row) => row.cancellable);
    const running = shown.filter((row) => row.state === "running").length;
    count.textContent = `${running} ${item}${running === 1 ? "" : "s"} running`;
    if (timers.size && ticking === null) ticking = setInterval(tick, 100);
  }

  function connectionLost() {
    lost = true;
    clearInterval(ticking);
    ticking = null;
    timers.clear();
    for (const tr of rows.values()) {
      tr.querySelector("button").disabled = true;
      if (tr.dataset.cancellable !== "yes") continue;  // it had ended: its state stands
      const state = tr.querySelector(".state");
      if (state) {
        state.textContent = "lost";
        state.dataset.state = "lost";
      }
      showWhy(tr, "the connection to the server was lost before it ended", false);
    }
    count.textContent = "Connection lost";
    cancelAll.disabled = true;
  }

  model.on("rows_json", draw);
  for (const [node, name] of [[summary, "summary"], [warning, "warning"], [error, "error"]]) {
    showLine(node, model[name]);
    model.on(name, () => showLine(node, model[name]));
  }
  if (model.document) model.document.on_event("connection_lost", connectionLost);
  const wrapper = document.createElement("div");
  wrapper.append(warning, error, summary);
  if (model.count_running) wrapper.append(count);
  wrapper.append(table, empty);
  if (model.cancel_all) wrapper.append(cancelAll);
  draw();
  return wrapper;
}
