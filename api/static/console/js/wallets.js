// Wallets: the list (every wallet for staff keys, their own for customer keys) and one
// wallet's page: balance, grants, 30 days of usage by model, budgets (with editing), recent
// debits and open holds.

import { call, get } from "./api.js";
import { budgets } from "./budgets.js";
import { lastDays, usageChart } from "./chart.js";
import { field, h, section, show, table } from "./dom.js";
import { amount, badge, failure, integer, subject, time } from "./format.js";

const PAGE = 25;

/** Previous/next buttons over cursor pages: ``load(after)`` shows one page. */
export function pager(load) {
  const history = [];
  let current = null;
  const box = h("div", { class: "pager" });
  async function go(after) {
    current = after;
    const next = await load(after);
    show(
      box,
      h("button", { type: "button", disabled: !history.length, onclick: () => go(history.pop()) }, "‹ Previous"),
      h(
        "button",
        {
          type: "button",
          class: "next",
          disabled: next === null || next === undefined,
          onclick: () => {
            history.push(current);
            go(next);
          },
        },
        "Next ›",
      ),
    );
  }
  return { box, go };
}

export async function list(main, _params, { can }) {
  const results = h("div", { id: "wallet-list" });
  const customer = h("input", { name: "customer_id", placeholder: "customer id" });
  const walletId = h("input", { name: "wallet_id", placeholder: "wallet id" });
  const pages = pager(async (after) => {
    try {
      const { data } = await get("/v1/wallets", {
        customer_id: customer.value.trim(),
        after,
        limit: PAGE,
      });
      show(
        results,
        table(
          [
            { title: "Wallet", cell: (w) => h("a", { href: `#/wallets/${encodeURIComponent(w.wallet_id)}` }, w.wallet_id) },
            { title: "Customer", cell: (w) => w.customer_id },
            { title: "Available", num: true, cell: (w) => amount(w.balance.available, w.unit) },
            { title: "Held", num: true, cell: (w) => amount(w.balance.held, w.unit) },
            { title: "Debt", num: true, cell: (w) => amount(w.balance.debt, w.unit) },
            { title: "Opened", cell: (w) => time(w.created_at) },
          ],
          data.wallets,
          can.staff
            ? "No wallets match. Clear the customer filter, or open a wallet with POST /v1/wallets (admin)."
            : "This key's customer has no wallets yet. Ask your provider to open one.",
          { id: "wallets-table" },
        ),
      );
      return data.next_after;
    } catch (error) {
      show(results, failure(error, "Listing wallets"));
      return null;
    }
  });
  const search = can.staff
    ? h(
        "div",
        { class: "toolbar" },
        h(
          "form",
          { id: "wallet-filter", onsubmit: (e) => (e.preventDefault(), pages.go(null)) },
          field("Customer", customer),
          h("button", { type: "submit" }, "Filter"),
        ),
        h(
          "form",
          {
            id: "wallet-search",
            onsubmit: (e) => {
              e.preventDefault();
              if (walletId.value.trim()) location.hash = `#/wallets/${encodeURIComponent(walletId.value.trim())}`;
            },
          },
          field("Go to wallet", walletId),
          h("button", { type: "submit" }, "Open"),
        ),
      )
    : null;
  show(main, h("h1", {}, "Wallets"), search, section("Wallets", results, pages.box));
  await pages.go(null);
}

function balanceCards(wallet) {
  const { available, held, debt } = wallet.balance;
  const card = (label, value, id) =>
    h("div", { class: "stat", id }, h("span", {}, label), h("strong", {}, amount(value, wallet.unit)));
  return h(
    "div",
    { class: "stats" },
    card("Available", available, "balance-available"),
    card("Held", held, "balance-held"),
    card("Debt", debt, "balance-debt"),
  );
}

function grants(wallet) {
  return table(
    [
      { title: "Grant", cell: (g) => g.grant_id },
      { title: "Category", cell: (g) => g.category },
      { title: "Priority", num: true, cell: (g) => integer(g.priority) },
      { title: "Amount", num: true, cell: (g) => amount(g.amount, wallet.unit) },
      { title: "Remaining", num: true, cell: (g) => amount(g.remaining, wallet.unit) },
      { title: "Held", num: true, cell: (g) => amount(g.held, wallet.unit) },
      { title: "Effective", cell: (g) => time(g.effective_at) },
      { title: "Expires", cell: (g) => (g.expires_at ? time(g.expires_at) : h("span", { class: "muted" }, "never")) },
      { title: "Status", cell: (g) => badge(g.status) },
    ],
    wallet.grants,
    "No grants yet: the wallet has nothing to spend. An admin grants credits with POST …/grants.",
    { id: "grants-table" },
  );
}

async function usage(walletId, unit) {
  const days = lastDays(30);
  const to = new Date(Date.parse(days.at(-1)) + 86_400_000).toISOString().replace(".000Z", "Z");
  try {
    const { data } = await get(`/v1/wallets/${encodeURIComponent(walletId)}/usage`, {
      window: "day",
      group_by: "model",
      from: days[0],
      to,
    });
    if (!data.series.length) {
      return h("p", { class: "empty", id: "usage-empty" }, "No usage in the last 30 days. Debits and hold captures show here by model.");
    }
    return usageChart(data.series, days, unit);
  } catch (error) {
    return failure(error, "Reading usage");
  }
}

function debitsTable(wallet, debits) {
  return table(
    [
      { title: "When", cell: (d) => time(d.occurred_at) },
      { title: "Amount", num: true, cell: (d) => amount(d.amount, wallet.unit) },
      { title: "Refunded", num: true, cell: (d) => amount(d.refunded, wallet.unit) },
      { title: "Subject", cell: (d) => subject(d.subject) },
      { title: "Rating", cell: (d) => (d.rating ? `${d.rating.price_book_id} v${d.rating.version}` : "—") },
      { title: "Debit", cell: (d) => h("code", { title: d.debit_id }, d.debit_id.slice(0, 8)) },
    ],
    debits,
    "No debits yet. They appear here as the product spends credits.",
    { id: "debits-table" },
  );
}

function holdsTable(wallet, holds) {
  return table(
    [
      { title: "Hold", cell: (x) => x.hold_id },
      { title: "Amount", num: true, cell: (x) => amount(x.amount, wallet.unit) },
      { title: "Placed", cell: (x) => time(x.placed_at) },
      { title: "Expires", cell: (x) => time(x.expires_at) },
      { title: "Subject", cell: (x) => subject(x.subject) },
    ],
    holds,
    "No open holds: nothing is reserved right now.",
    { id: "holds-table" },
  );
}

export async function detail(main, [walletId], context) {
  const path = `/v1/wallets/${encodeURIComponent(walletId)}`;
  const { data: wallet } = await get(path);
  const debitBox = h("div", { id: "recent-debits" });
  const debitPages = pager(async (after) => {
    try {
      const { data } = await get(`${path}/debits`, { order: "desc", limit: 10, after });
      show(debitBox, debitsTable(wallet, data.debits));
      return data.next_after;
    } catch (error) {
      show(debitBox, failure(error, "Listing debits"));
      return null;
    }
  });
  const [chart, holds] = await Promise.all([
    usage(walletId, wallet.unit),
    get(`${path}/holds`, { status: "open", order: "desc", limit: 50 }).then(
      ({ data }) => holdsTable(wallet, data.holds),
      (error) => failure(error, "Listing holds"),
    ),
  ]);
  const reload = () => detail(main, [walletId], context);
  show(
    main,
    h("h1", {}, "Wallet ", h("code", {}, wallet.wallet_id)),
    h("p", { class: "muted" }, `Customer ${wallet.customer_id} · unit ${wallet.unit} · overdraft limit `, amount(wallet.overdraft_limit, wallet.unit)),
    balanceCards(wallet),
    section("Usage, last 30 days (UTC days, by model)", h("div", { id: "usage" }, chart)),
    section("Budgets", budgets(wallet, context.can.manageBudgets, (put) => call("PUT", `${path}/budgets/${encodeURIComponent(put.budget_id)}`, { body: put.body }).then(reload))),
    section("Grants", grants(wallet)),
    section("Recent debits", debitBox, debitPages.box),
    section("Open holds", holds),
  );
  await debitPages.go(null);
}
