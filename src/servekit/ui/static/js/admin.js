// For admins: the users, and every API key, with a button to revoke one.
import { call, currentUser } from "./api.js";
import { clear, h, message } from "./dom.js";

export async function adminPage(main) {
  main.append(h("h1", {}, "Users and API keys"));
  const user = currentUser();
  if (!user || user.role !== "admin") {
    main.append(message("info", "Sign in as an admin to see users and API keys."));
    return;
  }
  const status = h("div", { "aria-live": "polite" });
  const keysBox = h("div", {});
  const drawKeys = async () => {
    const keys = await call("GET", "/keys?everyone=true");
    clear(
      keysBox,
      keys.length
        ? h(
            "table",
            { class: "keys" },
            h("thead", {}, h("tr", {}, ["Name", "Prefix", "Created", "Revoked", ""].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              {},
              keys.map((k) =>
                h(
                  "tr",
                  {},
                  h("td", {}, k.name),
                  h("td", {}, h("code", {}, k.prefix)),
                  h("td", {}, new Date(k.created_at).toLocaleString()),
                  h("td", {}, k.revoked_at ? new Date(k.revoked_at).toLocaleString() : "no"),
                  h(
                    "td",
                    {},
                    k.revoked_at
                      ? ""
                      : h(
                          "button",
                          {
                            type: "button",
                            "aria-label": `Revoke key ${k.name}`,
                            onclick: async () => {
                              clear(status);
                              try {
                                await call("DELETE", `/keys/${k.id}`);
                                status.append(message("ok", `Key ${k.name} revoked.`));
                                await drawKeys();
                              } catch (exc) {
                                status.append(message("error", exc.message));
                              }
                            },
                          },
                          "Revoke",
                        ),
                  ),
                ),
              ),
            ),
          )
        : h("p", {}, "No API keys."),
    );
  };
  const users = await call("GET", "/users");
  main.append(
    h("h2", {}, "Users"),
    h(
      "table",
      { class: "users" },
      h("thead", {}, h("tr", {}, ["Name", "Email", "Role", "Since"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, users.map((u) => h("tr", {}, h("td", {}, u.name), h("td", {}, u.email), h("td", {}, u.role), h("td", {}, new Date(u.created_at).toLocaleString())))),
    ),
    h("h2", {}, "API keys"),
    status,
    keysBox,
  );
  await drawKeys();
}
