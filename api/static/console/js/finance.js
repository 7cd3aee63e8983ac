// Finance (auditor and admin keys): the journal with filters, pages and a CSV download, the
// trial balance as of a time, and a wallet as it stood at a time.

import { call, get } from "./api.js";
import { field, h, section, show, table } from "./dom.js";
import { amount, badge, failure, fromLocalInput, integer, time } from "./format.js";
import { pager } from "./wallets.js";

const JOURNAL_PAGE = 25;

function filters(form) {
  const value = (name) => form.elements[name].value.trim() || undefined;
  return {
    wallet_id: value("wallet_id"),
    account: value("account"),
    from: fromLocalInput(value("from")),
    to: fromLocalInput(value("to")),
  };
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, class: "hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function journal(main) {
  const results = h("div", { id: "journal-results" });
  const notice = h("div", { class: "form-result" });
  const form = h(
    "form",
    { id: "journal-filter", class: "toolbar", onsubmit: (e) => (e.preventDefault(), pages.go(undefined)) },
    field("Wallet", h("input", { name: "wallet_id", placeholder: "any" })),
    field("Account", h("input", { name: "account", placeholder: "any, e.g. wallet:acme:consumed" })),
    field("From", h("input", { name: "from", type: "datetime-local", step: 1 }), "your time zone"),
    field("To", h("input", { name: "to", type: "datetime-local", step: 1 }), "excluded"),
    h("button", { type: "submit" }, "Apply"),
    h(
      "button",
      {
        type: "button",
        id: "journal-csv",
        onclick: async () => {
          show(notice, h("p", { class: "muted" }, "Preparing the CSV…"));
          try {
            const { blob } = await call("GET", "/v1/journal", { query: filters(form), accept: "text/csv" });
            download(blob, "journal.csv");
            show(notice, h("p", { class: "muted", id: "csv-done" }, `Downloaded journal.csv (${integer(blob.size)} bytes).`));
          } catch (error) {
            show(notice, failure(error, "Downloading the CSV"));
          }
        },
      },
      "Download CSV",
    ),
  );
  // A journal cursor is a position, and a leg within it when an event has more legs than a
  // page holds ("position:leg"); the API pages by `after` and `after_leg`.
  const pages = pager(async (cursor) => {
    try {
      const [after, afterLeg] = cursor === undefined ? [undefined, undefined] : String(cursor).split(":");
      const { data } = await get("/v1/journal", { ...filters(form), after, after_leg: afterLeg, limit: JOURNAL_PAGE });
      show(
        results,
        table(
          [
            { title: "Position", num: true, cell: (e) => integer(e.position) },
            { title: "Occurred", cell: (e) => time(e.occurred_at) },
            { title: "Wallet", cell: (e) => h("a", { href: `#/wallets/${encodeURIComponent(e.wallet_id)}` }, e.wallet_id) },
            { title: "Account", cell: (e) => h("code", {}, e.account) },
            { title: "Debit", num: true, cell: (e) => (e.debit ? amount(e.debit, e.unit) : "") },
            { title: "Credit", num: true, cell: (e) => (e.credit ? amount(e.credit, e.unit) : "") },
            { title: "Event", cell: (e) => `${e.event.type} v${e.event.version}` },
          ],
          data.entries,
          "No journal entries match. Widen the filters (or clear them), or check the wallet id.",
          { id: "journal-table" },
        ),
      );
      // `limit` is exact: the last page is the one without a next cursor.
      if (data.next_after === null || data.next_after === undefined) return null;
      const leg = data.next_after_leg;
      return leg === null || leg === undefined ? data.next_after : `${data.next_after}:${leg}`;
    } catch (error) {
      show(results, failure(error, "Reading the journal"));
      return null;
    }
  });
  show(main, h("h1", {}, "Journal"), form, notice, section("Entries (two legs per posting, in log order)", results, pages.box));
  await pages.go(undefined);
}

export async function trialBalance(main) {
  const results = h("div", { id: "trial-balance" });
  const asOf = h("input", { name: "as_of", type: "datetime-local", step: 1 });
  const unit = h("input", { name: "unit", placeholder: "every unit" });
  async function load() {
    try {
      const { data } = await get("/v1/trial-balance", { as_of: fromLocalInput(asOf.value), unit: unit.value.trim() });
      show(
        results,
        h("p", {}, "As of ", time(data.as_of), " · ", data.balanced ? badge("balanced", "active") : badge("NOT balanced", "over")),
        table(
          [
            { title: "Account", cell: (a) => h("code", {}, a.account) },
            { title: "Debits", num: true, cell: (a) => integer(a.debit_total) },
            { title: "Credits", num: true, cell: (a) => integer(a.credit_total) },
            { title: "Balance", num: true, cell: (a) => integer(a.balance) },
          ],
          data.accounts,
          "No postings up to that time. Pick a later time, or another unit.",
          { id: "trial-balance-table" },
        ),
        h("p", { class: "totals" }, `Total debits ${integer(data.debit_total)} · total credits ${integer(data.credit_total)}`),
      );
    } catch (error) {
      show(results, failure(error, "Reading the trial balance"));
    }
  }
  show(
    main,
    h("h1", {}, "Trial balance"),
    h(
      "form",
      { id: "trial-balance-form", class: "toolbar", onsubmit: (e) => (e.preventDefault(), load()) },
      field("As of", asOf, "your time zone; empty: now"),
      field("Unit", unit),
      h("button", { type: "submit" }, "Show"),
    ),
    section("Accounts", results),
  );
  await load();
}

export async function walletAsOf(main) {
  const results = h("div", { id: "wallet-as-of" });
  const walletId = h("input", { name: "wallet_id", required: true });
  const asOf = h("input", { name: "as_of", type: "datetime-local", step: 1, required: true });
  const form = h(
    "form",
    {
      id: "wallet-as-of-form",
      class: "toolbar",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const { data } = await get(`/v1/wallets/${encodeURIComponent(walletId.value.trim())}`, { as_of: fromLocalInput(asOf.value) });
          show(
            results,
            h("p", {}, h("code", {}, data.wallet_id), " as of ", time(data.as_of)),
            h(
              "div",
              { class: "stats" },
              ["available", "held", "debt"].map((k) =>
                h("div", { class: "stat", id: `as-of-${k}` }, h("span", {}, k), h("strong", {}, amount(data.balance[k], data.unit))),
              ),
            ),
            table(
              [
                { title: "Grant", cell: (g) => g.grant_id },
                { title: "Remaining", num: true, cell: (g) => amount(g.remaining, data.unit) },
                { title: "Held", num: true, cell: (g) => amount(g.held, data.unit) },
                { title: "Status", cell: (g) => badge(g.status) },
              ],
              data.grants,
              "The wallet had no grants at that time.",
            ),
          );
        } catch (error) {
          show(results, failure(error, "Reading the wallet"));
        }
      },
    },
    field("Wallet", walletId),
    field("As of", asOf, "your time zone"),
    h("button", { type: "submit" }, "Show"),
  );
  show(main, h("h1", {}, "A wallet at a point in time"), form, section("Balance then", results));
  show(results, h("p", { class: "empty" }, "Enter a wallet id and a time, then Show."));
}
