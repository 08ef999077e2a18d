// A model's page: its form (made from its description), its answer, and feedback on it.
import { ApiError, call } from "./api.js";
import { showAnswer } from "./answer.js";
import { clear, h, message } from "./dom.js";
import { imageForm } from "./forms/image.js";
import { seriesForm } from "./forms/series.js";
import { tabularForm } from "./forms/tabular.js";
import { textForm } from "./forms/text.js";
import { signedOutNote } from "./session.js";

function formFor(model) {
  if (model.input === "image") return imageForm(model);
  if (model.input === "text") return textForm(model);
  if (model.series) return seriesForm(model);
  return tabularForm(model);
}

// The server's 422 details, each beside the field it names (or above the form).
function showProblems(form, problems, status) {
  const general = [];
  for (const problem of problems) {
    const where = (problem.loc || []).filter((part) => part !== "body");
    const target = form.fieldFor(where);
    if (target) target.error.append(h("span", {}, problem.msg));
    else general.push(`${where.join(".") || "request"}: ${problem.msg}`);
  }
  if (general.length) status.append(message("error", general.join("; ")));
}

export async function modelPage(main, name) {
  let model;
  try {
    model = await call("GET", `/models/${encodeURIComponent(name)}`);
  } catch (exc) {
    main.append(h("h1", {}, name), message("error", exc.message));
    return;
  }
  const form = formFor(model);
  const status = h("div", { class: "status", "aria-live": "polite" });
  const answer = h("section", { class: "answer", "aria-label": "Answer", "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, form.action || "Predict");
  const element = h("form", { class: "predict", novalidate: true, "aria-label": `Input of ${model.name}` }, form.fields, submit);
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.clearMarks();
    clear(status);
    clear(answer);
    submit.disabled = true;
    try {
      const request = form.request();
      const result = await call("POST", request.path, request.body);
      const row = result.predictions[0];
      form.markWarnings(row.warnings || []);
      showAnswer(answer, model, row, form);
    } catch (exc) {
      if (exc instanceof ApiError && Array.isArray(exc.body.detail)) {
        status.append(message("error", exc.body.message || exc.message));
        showProblems(form, exc.body.detail, status);
      } else {
        status.append(message("error", exc.message));
      }
    } finally {
      submit.disabled = false;
    }
  });
  main.append(
    h("h1", {}, model.name, h("span", { class: "version" }, ` version ${model.version}`)),
    h("p", {}, model.description),
    await signedOutNote("send feedback on an answer"),
    element,
    status,
    answer,
  );
}
