// The page around every demo, drawn in the browser from a few strings: a header with the page's
// title, a sidebar with the pages and the server's load, the page's heading and summary, the
// page's own components, and the notice shown when the connection to the server is lost.
//
// The notice: when the websocket to the server closes (the server stopped, restarted or the
// network went away), it says so at once; it then asks the server's /liveness now and then
// (1, 2, 4, 8, then every 10 s, for at most 10 minutes), and once the server answers it offers
// a reload, which opens a new session on it.

const MAX_WAIT_MS = 10000;
const GIVE_UP_MS = 10 * 60 * 1000;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function navigation(model) {
  const nav = element("nav", "site-nav");
  nav.setAttribute("aria-label", "Pages");
  const list = element("ul");
  for (const { href, label, current } of model.nav) {
    const link = element("a", "", label);
    link.href = href;
    if (current) link.setAttribute("aria-current", "page");
    const item = element("li");
    item.append(link);
    list.append(item);
  }
  nav.append(list);
  return nav;
}

function connectionNotice(model) {
  const box = element("div", "connection-notice");
  box.setAttribute("role", "alert");
  box.hidden = true;
  const text = element("span");
  const reload = element("button", "", "Reload");
  reload.type = "button";
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

export function render({ model }) {
  const shell = element("div", "shell");
  shell.style.setProperty("--accent", model.accent);

  const header = element("header", "bar");
  const toggle = element("button", "toggle", "☰");
  toggle.type = "button";
  toggle.setAttribute("aria-label", "Show or hide the sidebar");
  toggle.setAttribute("aria-expanded", "true");
  toggle.addEventListener("click", () => {
    const hidden = shell.classList.toggle("sidebar-hidden");
    toggle.setAttribute("aria-expanded", String(!hidden));
  });
  header.append(toggle, element("span", "site-title", model.site_title));

  const sidebar = element("aside", "sidebar");
  const server = element("section", "server");
  server.setAttribute("aria-label", "Server");
  const line = element("p", "server-monitor", model.server_line);
  server.append(element("h2", "", "Server"), line);
  sidebar.append(navigation(model), server);
  model.on("server_line", () => { line.textContent = model.server_line; });

  const main = element("main", "content");
  if (model.heading) main.append(element("h1", "heading", model.heading));
  if (model.summary) main.append(element("p", "summary", model.summary));
  const content = element("div", "children");
  content.append(...model.get_child("main"));
  main.append(content);

  const body = element("div", "body");
  body.append(sidebar, main);
  shell.append(connectionNotice(model), header, body);
  return shell;
}
