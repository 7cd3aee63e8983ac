// A wallet's budgets: spent / limit bars, the period's end, and a form to change one or add
// one (PUT /v1/wallets/{id}/budgets/{budget_id}; admin and customer keys).

import { field, h, show } from "./dom.js";
import { amount, failure, percent, permille, subject, time } from "./format.js";
import { spentBar } from "./chart.js";

const PERIODS = ["day", "week", "month", "total"];
const MODES = ["hard", "soft"];
const SUBJECT_KEYS = ["user_id", "team_id", "agent_id", "project_id", "feature", "model"];

function select(name, options, value) {
  return h("select", { name }, options.map((o) => h("option", { value: o, selected: o === value }, o)));
}

/** "team_id=t1, model=m1" → {team_id: "t1", model: "m1"}; throws on anything else. */
function parseScope(text) {
  const scope = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [key, ...rest] = part.split("=");
    if (!SUBJECT_KEYS.includes(key.trim()) || !rest.join("=").trim()) {
      throw new Error(`scope: "${part}" is not key=value with a key of ${SUBJECT_KEYS.join(", ")}`);
    }
    scope[key.trim()] = rest.join("=").trim();
  }
  return scope;
}

/** The budget form's body; throws with a message naming the field. */
function bodyOf(form) {
  const limit = form.elements.limit.value.trim();
  if (!/^\d+$/.test(limit) || !Number.isSafeInteger(Number(limit))) {
    throw new Error("limit: a whole number of credits, 0 or more");
  }
  const thresholds = form.elements.alert_thresholds.value
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => {
      if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(t)) throw new Error(`alert thresholds: "${t}" is not between 0 and 1`);
      return Number(t);
    });
  return {
    scope: parseScope(form.elements.scope.value),
    limit: Number(limit),
    period: form.elements.period.value,
    timezone: form.elements.timezone.value.trim() || "UTC",
    mode: form.elements.mode.value,
    alert_thresholds: thresholds,
  };
}

function budgetForm(budget, save, onCancel) {
  const result = h("div", { class: "form-result" });
  const idInput = budget ? null : h("input", { name: "budget_id", required: true, placeholder: "team-t1" });
  const form = h(
    "form",
    {
      class: "budget-form",
      dataset: { budget: budget ? budget.budget_id : "" },
      onsubmit: async (event) => {
        event.preventDefault();
        let body;
        try {
          body = bodyOf(form);
        } catch (error) {
          show(result, h("div", { class: "error", role: "alert" }, h("strong", {}, "Check the form"), h("p", {}, error.message)));
          return;
        }
        const budgetId = budget ? budget.budget_id : idInput.value.trim();
        show(result, h("p", { class: "muted" }, "Saving…"));
        try {
          await save({ budget_id: budgetId, body });
        } catch (error) {
          show(result, failure(error, "Saving the budget"));
        }
      },
    },
    idInput ? field("Budget id", idInput) : null,
    field("Limit", h("input", { name: "limit", inputmode: "numeric", value: budget ? String(budget.limit) : "", required: true })),
    field("Period", select("period", PERIODS, budget ? budget.period : "month")),
    field("Mode", select("mode", MODES, budget ? budget.mode : "hard"), "hard refuses, soft warns"),
    field("Time zone", h("input", { name: "timezone", value: budget ? budget.timezone : "UTC" })),
    field(
      "Scope",
      h("input", { name: "scope", value: budget ? Object.entries(budget.scope).map(([k, v]) => `${k}=${v}`).join(", ") : "", placeholder: "team_id=t1" }),
      "empty: every request",
    ),
    field("Alert thresholds", h("input", { name: "alert_thresholds", value: budget ? budget.alert_thresholds.join(", ") : "0.75, 0.9, 1", placeholder: "0.75, 0.9, 1" })),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, "Save"), h("button", { type: "button", class: "link", onclick: onCancel }, "Cancel")),
    result,
  );
  return form;
}

/** The budgets section's content. ``save({budget_id, body})`` PUTs and redraws the page. */
export function budgets(wallet, canEdit, save) {
  const box = h("div", { id: "budgets" });
  const rows = wallet.budgets.map((b) => {
    const slot = h("div", { class: "edit-slot" });
    const used = permille(b.spent, b.limit);
    return h(
      "div",
      { class: "budget", dataset: { budget: b.budget_id, spent: String(b.spent), limit: String(b.limit) } },
      h(
        "div",
        { class: "budget-head" },
        h("strong", {}, b.budget_id),
        h("span", { class: "muted" }, ` ${b.mode} · per ${b.period} · scope `, subject(b.scope)),
        canEdit
          ? h("button", { type: "button", class: "link edit", onclick: () => show(slot, budgetForm(b, save, () => show(slot))) }, "Edit")
          : null,
      ),
      spentBar(b.spent, b.limit),
      h(
        "div",
        { class: "budget-figures" },
        amount(b.spent, wallet.unit),
        " of ",
        amount(b.limit, wallet.unit),
        ` spent (${percent(used)}) · `,
        amount(b.remaining, wallet.unit),
        " left · period ends ",
        b.period_end ? time(b.period_end) : "never",
      ),
      slot,
    );
  });
  const adder = h("div", { class: "edit-slot" });
  show(
    box,
    rows.length ? rows : h("p", { class: "empty" }, canEdit ? "No budgets: spending is capped only by the balance. Add one below." : "No budgets: spending is capped only by the balance."),
    canEdit ? h("button", { type: "button", id: "new-budget", onclick: () => show(adder, budgetForm(null, save, () => show(adder))) }, "New budget") : null,
    adder,
  );
  return box;
}
