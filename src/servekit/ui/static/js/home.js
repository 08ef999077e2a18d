// The models this server serves, each a link to its page.
import { h } from "./dom.js";
import { serverStatus, signedOutNote } from "./session.js";

const KINDS = {
  classification: "Classifier: fill in the features",
  regression: "Regression: fill in the features",
  image_classification: "Image classifier: upload an image",
  ner: "Named entities: type a text",
  forecasting: "Forecast: choose a horizon",
};

export async function homePage(main) {
  const status = await serverStatus(true);
  main.append(
    h("h1", {}, "Models"),
    await signedOutNote("send feedback and see your predictions"),
    h(
      "ul",
      { class: "models" },
      status.models.map((m) =>
        h(
          "li",
          {},
          h("a", { href: `/ui/models/${encodeURIComponent(m.name)}`, "data-link": true }, m.name),
          h("span", { class: "kind" }, ` ${KINDS[m.task] || m.task}`),
          h("p", {}, m.description),
        ),
      ),
    ),
    h("p", { class: "hint" }, "The API itself is documented at ", h("a", { href: "/docs" }, "/docs"), "."),
  );
}
