// Operator pages (admin keys): projection status with lag and rebuilds, API keys (create,
// revoke, list), webhooks and each webhook's delivery log.

import { call, get } from "./api.js";
import { field, h, section, show, table } from "./dom.js";
import { badge, failure, integer, time } from "./format.js";
import { pager } from "./wallets.js";

export async function projections(main) {
  const results = h("div", { id: "projections" });
  const notice = h("div", { class: "form-result" });
  async function load() {
    try {
      const { data } = await get("/v1/admin/projections");
      show(
        results,
        table(
          [
            { title: "Projection", cell: (p) => h("strong", {}, p.name) },
            { title: "Status", cell: (p) => badge(p.status, p.status === "running" ? "active" : p.status) },
            { title: "Generation", num: true, cell: (p) => (p.generation === null ? "—" : integer(p.generation)) },
            { title: "Position", num: true, cell: (p) => integer(p.position) },
            { title: "Head", num: true, cell: (p) => integer(p.head) },
            { title: "Lag (events)", num: true, cell: (p) => h("span", { class: p.lag > 0 ? "lagging" : null }, integer(p.lag)) },
            { title: "Lag (seconds)", num: true, cell: (p) => p.lag_seconds.toFixed(1) },
            {
              title: "",
              cell: (p) =>
                h(
                  "button",
                  {
                    type: "button",
                    class: "rebuild",
                    dataset: { projection: p.name },
                    disabled: p.status === "rebuilding",
                    onclick: async () => {
                      if (!confirm(`Rebuild ${p.name} from the whole log? Reads keep answering meanwhile.`)) return;
                      try {
                        await call("POST", `/v1/admin/projections/${encodeURIComponent(p.name)}/rebuild`);
                        show(notice, h("p", { class: "ok", id: "rebuild-started" }, `Rebuilding ${p.name}: the new generation takes over once it has caught up.`));
                      } catch (error) {
                        show(notice, failure(error, `Rebuilding ${p.name}`));
                      }
                      await load();
                    },
                  },
                  "Rebuild",
                ),
            },
          ],
          data.projections,
          "No read models are installed yet: start the API or `ledger project` once.",
          { id: "projections-table" },
        ),
      );
    } catch (error) {
      show(results, failure(error, "Reading the projections"));
    }
  }
  show(
    main,
    h("h1", {}, "Projections"),
    h("p", { class: "muted" }, "Read models follow the event log a moment behind. Lag is how far."),
    notice,
    section("Read models", results, h("button", { type: "button", id: "refresh", onclick: load }, "Refresh")),
  );
  await load();
}

export async function keys(main) {
  const results = h("div", { id: "api-keys" });
  const created = h("div", { id: "created-key" });
  let position = null;
  const pages = pager(async (after) => {
    try {
      const { data } = await get("/v1/api-keys", { after, limit: 50, min_position: position });
      show(
        results,
        table(
          [
            { title: "Key id", cell: (k) => h("code", {}, k.key_id) },
            { title: "Name", cell: (k) => k.name || h("span", { class: "muted" }, "—") },
            { title: "Scopes", cell: (k) => k.scopes.join(", ") },
            { title: "Created", cell: (k) => time(k.created_at) },
            { title: "Revoked", cell: (k) => (k.revoked_at ? time(k.revoked_at) : badge("active")) },
            {
              title: "",
              cell: (k) =>
                k.revoked_at
                  ? ""
                  : h(
                      "button",
                      {
                        type: "button",
                        class: "revoke danger",
                        dataset: { key: k.key_id },
                        onclick: async () => {
                          if (!confirm(`Revoke key ${k.key_id} (${k.name})? It stops working at once.`)) return;
                          try {
                            await call("DELETE", `/v1/api-keys/${encodeURIComponent(k.key_id)}`);
                          } catch (error) {
                            show(created, failure(error, "Revoking the key"));
                          }
                          await pages.go(0);
                        },
                      },
                      "Revoke",
                    ),
            },
          ],
          data.api_keys,
          "No API keys stored yet (the bootstrap key is not listed). Create one below.",
          { id: "api-keys-table" },
        ),
      );
      return data.next_after;
    } catch (error) {
      show(results, failure(error, "Listing API keys"));
      return null;
    }
  });
  const scope = h("select", { name: "scope" }, ["customer", "service", "auditor", "admin"].map((s) => h("option", { value: s }, s)));
  const customer = h("input", { name: "customer", placeholder: "customer id (for customer keys)" });
  const name = h("input", { name: "name", placeholder: "acme dashboard" });
  const form = h(
    "form",
    {
      id: "new-key",
      class: "toolbar",
      onsubmit: async (event) => {
        event.preventDefault();
        const scopes = [scope.value === "customer" ? `customer:${customer.value.trim()}` : scope.value];
        try {
          const answer = await call("POST", "/v1/api-keys", { body: { scopes, name: name.value.trim() } });
          position = answer.position;
          const shown = h("input", { readonly: true, value: answer.data.key, id: "new-key-value", class: "secret" });
          show(
            created,
            h(
              "div",
              { class: "ok" },
              h("strong", {}, `Key ${answer.data.key_id} created. Copy it now: it is never shown again.`),
              shown,
              h("button", { type: "button", onclick: () => navigator.clipboard.writeText(answer.data.key) }, "Copy"),
            ),
          );
          name.value = "";
          await pages.go(0);
        } catch (error) {
          show(created, failure(error, "Creating the key"));
        }
      },
    },
    field("Scope", scope),
    field("Customer", customer),
    field("Name", name),
    h("button", { type: "submit" }, "Create key"),
  );
  show(main, h("h1", {}, "API keys"), section("New key", form, created), section("Keys", results, pages.box));
  await pages.go(0);
}

export async function webhooks(main) {
  const results = h("div", { id: "webhooks" });
  const pages = pager(async (after) => {
    try {
      const { data } = await get("/v1/webhooks", { after, limit: 50 });
      show(
        results,
        table(
          [
            { title: "Webhook", cell: (w) => h("a", { href: `#/operator/webhooks/${encodeURIComponent(w.webhook_id)}` }, w.webhook_id) },
            { title: "URL", cell: (w) => h("code", {}, w.url) },
            { title: "Alerts", cell: (w) => w.events.join(", ") },
            { title: "Created", cell: (w) => time(w.created_at) },
            { title: "Changed", cell: (w) => time(w.updated_at) },
          ],
          data.webhooks,
          "No webhooks. Create one with PUT /v1/webhooks/{id} to receive alerts.",
          { id: "webhooks-table" },
        ),
      );
      return data.next_after;
    } catch (error) {
      show(results, failure(error, "Listing webhooks"));
      return null;
    }
  });
  show(main, h("h1", {}, "Webhooks"), section("Endpoints (open one for its delivery log)", results, pages.box));
  await pages.go(0);
}

export async function deliveries(main, [webhookId]) {
  const results = h("div", { id: "deliveries" });
  const path = `/v1/webhooks/${encodeURIComponent(webhookId)}`;
  const { data: hook } = await get(path).catch((error) => ({ data: { webhook_id: webhookId, error } }));
  const pages = pager(async (after) => {
    try {
      const { data } = await get(`${path}/deliveries`, { after, limit: 50 });
      show(
        results,
        table(
          [
            { title: "#", num: true, cell: (d) => integer(d.seq) },
            { title: "Alert", cell: (d) => h("code", { title: d.alert_id }, d.type) },
            { title: "Attempt", num: true, cell: (d) => integer(d.attempt) },
            { title: "Status", cell: (d) => badge(d.status) },
            { title: "HTTP", num: true, cell: (d) => (d.response_status === null ? "—" : String(d.response_status)) },
            { title: "Error", cell: (d) => d.error || "" },
            { title: "Attempted", cell: (d) => time(d.attempted_at) },
            { title: "Next attempt", cell: (d) => time(d.next_attempt_at) },
          ],
          data.deliveries,
          "Nothing delivered yet: alerts this webhook subscribes to appear here when they fire.",
          { id: "deliveries-table" },
        ),
      );
      return data.next_after;
    } catch (error) {
      show(results, failure(error, "Reading the delivery log"));
      return null;
    }
  });
  show(
    main,
    h("h1", {}, "Webhook ", h("code", {}, webhookId)),
    hook.error ? failure(hook.error, "Reading the webhook") : h("p", { class: "muted" }, h("code", {}, hook.url), ` · ${hook.events.join(", ")}`),
    section("Delivery log", results, pages.box),
  );
  await pages.go(0);
}
