// A form for a tabular model: a labelled control per feature, its type and range, the example in it.
import { field, h } from "../dom.js";
import { makeForm } from "./common.js";

function control(feature, example) {
  const value = example === undefined || example === null ? "" : String(example);
  if (feature.allowed) {
    return h("select", { name: feature.name }, feature.allowed.map((v) => h("option", { value: v, selected: v === value }, v)));
  }
  if (feature.type === "bool") {
    return h("select", { name: feature.name }, ["true", "false"].map((v) => h("option", { value: v, selected: v === value }, v)));
  }
  if (feature.type === "float" || feature.type === "int") {
    return h("input", {
      name: feature.name,
      type: "number",
      inputmode: "decimal",
      step: feature.type === "int" ? "1" : "any",
      min: feature.minimum,
      max: feature.maximum,
      value,
    });
  }
  return h("input", { name: feature.name, type: "text", value });
}

function hint(feature) {
  const parts = [feature.description, feature.type];
  if (feature.minimum !== undefined && feature.maximum !== undefined) parts.push(`from ${feature.minimum} to ${feature.maximum}`);
  else if (feature.minimum !== undefined) parts.push(`at least ${feature.minimum}`);
  else if (feature.maximum !== undefined) parts.push(`at most ${feature.maximum}`);
  return parts.filter(Boolean).join(" · ");
}

function read(feature, control) {
  const raw = control.value;
  if (raw === "") return undefined; // missing: the server says so beside the field
  if (feature.type === "float" || feature.type === "int") return Number(raw);
  if (feature.type === "bool") return raw === "true";
  return raw;
}

export function tabularForm(model) {
  const example = model.example || {};
  const fields = model.inputs.map((feature) => ({ feature, ...field(feature.name, control(feature, example[feature.name]), hint(feature)) }));
  const byName = Object.fromEntries(fields.map((f) => [f.feature.name, f]));
  return {
    ...makeForm(fields, byName),
    request() {
      const row = {};
      for (const f of fields) {
        const value = read(f.feature, f.control);
        if (value !== undefined) row[f.feature.name] = value;
      }
      return { path: model.endpoints.predict, body: { json: row } };
    },
  };
}
