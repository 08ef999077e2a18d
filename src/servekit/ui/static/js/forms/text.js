// A form for a text model: one text box, the model's example in it.
import { field, h } from "../dom.js";
import { makeForm } from "./common.js";

export function textForm(model) {
  const spec = model.text || {};
  const box = field(
    "Text",
    h("textarea", { name: "text", rows: 5, maxlength: spec.max_chars }, (model.example && model.example.text) || ""),
    `At most ${spec.max_chars} characters (${spec.language || "any language"}).`,
  );
  return {
    action: "Find entities",
    ...makeForm([box], { text: box }),
    request() {
      return { path: model.endpoints.predict, body: { json: { text: box.control.value } } };
    },
    text() {
      return box.control.value;
    },
  };
}
