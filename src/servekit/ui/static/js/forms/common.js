// What every kind's form shares: its fields by name, and marks (errors, warnings) beside them.
import { clear, h } from "../dom.js";

export function makeForm(fields, byName) {
  return {
    fields: fields.map((f) => f.el),
    fieldFor(where) {
      for (const part of where) if (typeof part === "string" && byName[part]) return byName[part];
      return null;
    },
    clearMarks() {
      for (const f of fields) {
        clear(f.error);
        clear(f.warn);
        f.control.removeAttribute("aria-invalid");
      }
    },
    // Each out-of-distribution warning beside the input it concerns; the rest go in the answer.
    markWarnings(warnings) {
      const placed = new Set();
      for (const warning of warnings) {
        const target = byName[warning.feature] || (fields.length === 1 ? fields[0] : null);
        if (!target) continue;
        target.warn.append(h("p", { class: "warning", role: "status" }, "Warning: ", warning.message));
        placed.add(warning);
      }
      return placed;
    },
  };
}
