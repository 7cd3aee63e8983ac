// The console's shell: signing in with a pasted API key, the navigation the key's scopes
// allow, and the hash router (#/wallets, #/finance/..., #/operator/...).

import { call, roles, session } from "./api.js";
import { field, h, show } from "./dom.js";
import { failure } from "./format.js";
import * as finance from "./finance.js";
import * as operator from "./operator.js";
import * as wallets from "./wallets.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const whoBox = document.getElementById("who");

// [pattern, page, role needed (a key of roles(), or null for any key), navigation title]
const ROUTES = [
  [/^#\/wallets$/, wallets.list, null, "Wallets"],
  [/^#\/wallets\/([^/]+)$/, wallets.detail, null, null],
  [/^#\/finance\/journal$/, finance.journal, "auditor", "Journal"],
  [/^#\/finance\/trial-balance$/, finance.trialBalance, "auditor", "Trial balance"],
  [/^#\/finance\/as-of$/, finance.walletAsOf, "auditor", "Wallet as of"],
  [/^#\/operator\/projections$/, operator.projections, "admin", "Projections"],
  [/^#\/operator\/keys$/, operator.keys, "admin", "API keys"],
  [/^#\/operator\/webhooks$/, operator.webhooks, "admin", "Webhooks"],
  [/^#\/operator\/webhooks\/([^/]+)$/, operator.deliveries, "admin", null],
];
const NEEDS = { auditor: "an auditor or admin key", admin: "an admin key" };

function signIn() {
  const input = h("input", {
    type: "password",
    id: "api-key",
    name: "api-key",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    placeholder: "lk_…",
  });
  const result = h("div", { id: "sign-in-result" });
  const form = h(
    "form",
    {
      id: "sign-in",
      class: "card narrow",
      onsubmit: async (event) => {
        event.preventDefault();
        const key = input.value.trim();
        show(result, h("p", { class: "muted" }, "Checking the key…"));
        try {
          const { data } = await call("GET", "/v1/whoami", { key });
          input.value = "";
          session.start(key, data);
          // Back to the page asked for, or to the wallets (the hashchange renders those).
          if (!["", "#/", "#/signin"].includes(location.hash)) render();
          else location.hash = "#/wallets";
        } catch (error) {
          show(result, failure(error, "Signing in"));
        }
      },
    },
    h("h1", {}, "Sign in"),
    h(
      "p",
      {},
      "Paste an API key. It stays in this browser tab only (session storage) and is sent " +
        "to this server alone, never in a link.",
    ),
    field("API key", input),
    h("button", { type: "submit" }, "Sign in"),
    result,
  );
  show(main, form);
  input.focus();
}

function drawChrome(who) {
  const can = roles(who);
  const allowed = ROUTES.filter(([, , role, title]) => title && (!role || can[role]));
  show(
    nav,
    allowed.map(([pattern, , , title]) => {
      const href = pattern.source.replace(/^\^/, "").replace(/\$$/, "").replaceAll("\\/", "/");
      const current = location.hash === href || location.hash.startsWith(`${href}/`);
      return h("a", { href, class: current ? "current" : null }, title);
    }),
  );
  show(
    whoBox,
    h("span", { title: `key ${who.key_id}` }, `${who.name || who.key_id} · ${who.scopes.join(", ")}`),
    h(
      "button",
      {
        type: "button",
        id: "sign-out",
        class: "link",
        onclick: () => {
          session.end();
          if (location.hash === "#/signin") render();
          else location.hash = "#/signin";
        },
      },
      "Sign out",
    ),
  );
}

export async function render() {
  const who = session.who();
  if (!who || !session.key()) {
    show(nav);
    show(whoBox);
    signIn();
    return;
  }
  if (!location.hash || location.hash === "#/" || location.hash === "#/signin") {
    history.replaceState(null, "", "#/wallets"); // no hashchange: rendered below
  }
  drawChrome(who);
  const hash = location.hash.split("?")[0];
  for (const [pattern, page, role] of ROUTES) {
    const match = hash.match(pattern);
    if (!match) continue;
    if (role && !roles(who)[role]) {
      show(
        main,
        h(
          "div",
          { class: "error", role: "alert", id: "denied", dataset: { status: 403 } },
          h("strong", {}, "Not for this key"),
          h("p", {}, `This page needs ${NEEDS[role]}. Sign out and sign in with one to open it.`),
        ),
      );
      main.dataset.ready = hash;
      return;
    }
    delete main.dataset.ready;
    show(main, h("p", { class: "muted" }, "Loading…"));
    try {
      await page(main, match.slice(1).map(decodeURIComponent), { who, can: roles(who) });
    } catch (error) {
      show(main, failure(error, "Loading this page"));
    }
    main.dataset.ready = hash;
    return;
  }
  show(main, h("p", { class: "empty" }, "No such page. Pick one from the menu above."));
  main.dataset.ready = hash;
}

window.addEventListener("hashchange", () => render());
render();
