// The connection notice of every page. When the websocket to the server closes (the server
// stopped, restarted or the network went away), it says so at once; it then asks the server's
// /liveness now and then (1, 2, 4, 8, then every 10 s, for at most 10 minutes), and once the
// server answers it offers a reload, which opens a new session on it.

const MAX_WAIT_MS = 10000;
const GIVE_UP_MS = 10 * 60 * 1000;

export function render({ model }) {
  const box = document.createElement("div");
  box.className = "connection-notice";
  box.setAttribute("role", "alert");
  box.hidden = true;
  const text = document.createElement("span");
  const reload = document.createElement("button");
  reload.type = "button";
  reload.textContent = "Reload";
  reload.hidden = true;
  reload.addEventListener("click", () => window.location.reload());
  box.append(text, reload);

  let timer = null;
  function ask(wait, since) {
    timer = setTimeout(async () => {
      try {
        const answer = await fetch(new URL("liveness", document.baseURI), { cache: "no-store" });
        if (answer.ok) {
          text.textContent = "The server is back. Reload the page to continue.";
          reload.hidden = false;
          return;
        }
      } catch (error) { /* not back yet */ }
      if (performance.now() - since < GIVE_UP_MS) ask(Math.min(2 * wait, MAX_WAIT_MS), since);
      else text.textContent = "The server has not come back. Try reloading later.";
    }, wait);
  }

  function lost() {
    if (!box.hidden) return;
    text.textContent = "Connection to the server lost: this page no longer updates, and work " +
      "that had not ended is marked lost. Waiting for the server… ";
    box.hidden = false;
    ask(1000, performance.now());
  }

  model.on("remove", () => clearTimeout(timer));
  if (model.document) model.document.on_event("connection_lost", lost);
  return box;
}
