// The page's router: one HTML shell for every address under /ui; moving between pages keeps the
// sign-in (it lives in memory) because the page is never reloaded.
import { onSession } from "./api.js";
import { adminPage } from "./admin.js";
import { clear, h, message } from "./dom.js";
import { historyPage } from "./history.js";
import { homePage } from "./home.js";
import { modelPage } from "./model.js";
import { monitorPage } from "./monitor.js";
import { renderSession } from "./session.js";

const ROUTES = [
  [/^\/ui\/?$/, homePage],
  [/^\/ui\/models\/([^/]+)$/, modelPage],
  [/^\/ui\/history$/, historyPage],
  [/^\/ui\/monitor$/, monitorPage],
  [/^\/ui\/admin$/, adminPage],
];

const main = document.getElementById("main");
let leave = null;

async function render() {
  if (leave) leave();
  leave = null;
  for (const [pattern, page] of ROUTES) {
    const match = window.location.pathname.match(pattern);
    if (match) {
      clear(main);
      try {
        leave = (await page(main, ...match.slice(1).map(decodeURIComponent))) || null;
      } catch (exc) {
        clear(main, message("error", `This page could not be drawn: ${exc.message}`));
      }
      return;
    }
  }
  clear(main, h("h1", {}, "No such page"), h("p", {}, h("a", { href: "/ui", "data-link": true }, "Back to the models")));
}

export function go(path) {
  window.history.pushState({}, "", path);
  render().then(() => main.focus());
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  go(link.getAttribute("href"));
});
window.addEventListener("popstate", () => render());

const box = document.getElementById("session");
onSession(() => {
  renderSession(box);
  render();
});
renderSession(box);
render();
