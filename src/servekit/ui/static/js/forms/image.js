// A form for an image model: a file chooser and a drop zone, with a preview of the chosen image.
import { clear, field, h } from "../dom.js";
import { makeForm } from "./common.js";

export function imageForm(model) {
  const spec = model.image || {};
  const formats = spec.formats || ["png", "jpeg", "webp"];
  const chooser = field(
    "Image",
    h("input", { type: "file", name: "file", accept: formats.map((f) => `image/${f}`).join(",") }),
    `${formats.join(", ")}; at most ${(spec.max_bytes || 0).toLocaleString("en")} bytes. Or drop an image on the box below.`,
  );
  const preview = h("div", { class: "preview", "aria-live": "polite" });
  let shown = null;
  const show = () => {
    if (shown) URL.revokeObjectURL(shown);
    shown = null;
    const file = chooser.control.files[0];
    if (!file) {
      clear(preview, "No image chosen yet.");
      return;
    }
    shown = URL.createObjectURL(file);
    clear(preview, h("img", { src: shown, alt: `Preview of ${file.name}` }), h("span", {}, `${file.name}, ${file.size.toLocaleString("en")} bytes`));
  };
  chooser.control.addEventListener("change", show);
  const zone = h("div", { class: "drop-zone", "aria-label": "Drop an image here" }, "Drop an image here", preview);
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) {
      chooser.control.files = event.dataTransfer.files;
      show();
    }
  });
  show();
  const form = makeForm([chooser], { file: chooser });
  return {
    ...form,
    fields: [...form.fields, zone],
    request() {
      const body = new FormData();
      for (const file of chooser.control.files) body.append("file", file);
      return { path: `${model.endpoints.predict}/file`, body: { form: body } };
    },
  };
}
