// Showing numbers, times and errors.
//
// Amounts are integers and are only ever shown or compared as integers (BigInt), never put
// through floating-point arithmetic. Times are shown in the viewer's time zone, with the UTC
// instant on hover (the title attribute).

import { h } from "./dom.js";

const grouping = new Intl.NumberFormat(undefined, { useGrouping: true });
const local = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const localDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });

/** An integer (number or BigInt) with digit grouping, exactly. */
export function integer(value) {
  return grouping.format(BigInt(value));
}

/** An amount with the wallet's unit: "1,234 credits". */
export function amount(value, unit) {
  return h("span", { class: "amount", dataset: { value: String(value) } }, `${integer(value)} ${unit}`);
}

/** "2026-01-01 00:00:00 UTC" for an RFC 3339 instant. */
export function utc(iso) {
  return `${new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, "")} UTC`;
}

/** A <time> in the viewer's zone, the UTC instant on hover; "—" for none. */
export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: utc(iso) }, local.format(new Date(iso)));
}

/** A UTC day ("Jan 5") for chart axes. */
export function day(iso) {
  return localDay.format(new Date(iso));
}

/** Parts per thousand of ``part`` in ``whole``, as an integer 0..1000 (capped), exactly. */
export function permille(part, whole) {
  const p = BigInt(part);
  const w = BigInt(whole);
  if (w <= 0n) return p > 0n ? 1000 : 0;
  const value = (p * 1000n) / w;
  return Number(value > 1000n ? 1000n : value < 0n ? 0n : value);
}

/** "12.5%" from a permille. */
export function percent(perMille) {
  return `${Math.trunc(perMille / 10)}.${perMille % 10}%`;
}

/** A status badge. */
export function badge(text, kind) {
  return h("span", { class: `badge ${kind || text}` }, text);
}

/** A subject object as "model=m1, user_id=u1". */
export function subject(value) {
  const parts = Object.entries(value || {}).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(", ") : h("span", { class: "muted" }, "—");
}

// What to do about each kind of failure: the console says it in words.
const ADVICE = {
  0: "Check that the server is running and reachable, then retry.",
  401: "The key is unknown or was revoked: sign out and sign in with a working key.",
  403: "This key does not have the scope for this page: sign in with a key that has it.",
  404: "Nothing with that id here (or it belongs to another customer): check the id.",
  409: "It conflicts with what exists now: reload and try again.",
  422: "Some input is invalid: fix the fields named below and send again.",
  429: "Too many requests with this key: wait a moment and retry.",
  503: "The server is busy or its read models are catching up: retry in a moment.",
};

/** An error box: what failed, the server's words, and what to do. */
export function failure(error, what) {
  const status = error.status ?? 0;
  const problem = error.problem || {};
  const fields = (problem.errors || []).map((e) => h("li", {}, `${e.field}: ${e.message}`));
  return h(
    "div",
    { class: "error", role: "alert", dataset: { status, code: problem.code || "" } },
    h("strong", {}, what ? `${what} failed` : "That failed"),
    h("p", {}, problem.detail || problem.title || error.message),
    fields.length ? h("ul", {}, fields) : null,
    h("p", { class: "advice" }, ADVICE[status] || "Retry; if it keeps failing, tell an operator."),
  );
}

/** A datetime-local input's value as an RFC 3339 instant (with its offset), or undefined. */
export function fromLocalInput(value) {
  if (!value) return undefined;
  return new Date(value).toISOString();
}
