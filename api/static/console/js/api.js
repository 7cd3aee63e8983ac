// The HTTP client of the console: bearer key from sessionStorage, exact integers, problems.
//
// The key lives only in this tab's sessionStorage and in the Authorization header of requests
// to this origin: never in a URL, a cookie or a log line.

const KEY = "ledger-console.key";
const WHO = "ledger-console.who";

export const session = {
  key() {
    return sessionStorage.getItem(KEY);
  },
  who() {
    const text = sessionStorage.getItem(WHO);
    return text ? JSON.parse(text) : null;
  },
  start(key, who) {
    sessionStorage.setItem(KEY, key);
    sessionStorage.setItem(WHO, JSON.stringify(who));
  },
  end() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(WHO);
  },
};

/** What a key may do, from its scopes. */
export function roles(who) {
  const scopes = new Set(who ? who.scopes : []);
  const customers = [...scopes].filter((s) => s.startsWith("customer:")).map((s) => s.slice(9));
  return {
    admin: scopes.has("admin"),
    auditor: scopes.has("admin") || scopes.has("auditor"),
    staff: scopes.has("admin") || scopes.has("service") || scopes.has("auditor"),
    customers,
    manageBudgets: scopes.has("admin") || customers.length > 0,
  };
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// Amounts are integers; the contract keeps each below 2^53, but sums (trial balance totals)
// may pass it. A number the JSON text writes as an integer too large for a double is kept
// exact as a BigInt (the reviver sees the source text).
function parseJson(text) {
  return JSON.parse(text, (_key, value, context) => {
    if (
      typeof value === "number" &&
      !Number.isSafeInteger(value) &&
      context &&
      /^-?\d+$/.test(context.source)
    ) {
      return BigInt(context.source);
    }
    return value;
  });
}

function queryString(query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) params.append(name, String(one));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/**
 * One request. Resolves to {data, position} (position: the Ledger-Position header), or for
 * CSV to {blob}; rejects with an ApiError carrying the problem document.
 */
export async function call(method, path, { body, query, key, accept } = {}) {
  const headers = { Authorization: `Bearer ${key ?? session.key() ?? ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (accept) headers.Accept = accept;
  let response;
  try {
    response = await fetch(path + queryString(query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiError(0, {
      title: "No answer",
      detail: "The server did not answer. Check that it is running, then retry.",
    });
  }
  if (response.ok && accept === "text/csv") return { blob: await response.blob() };
  const text = await response.text();
  let data = null;
  try {
    data = text ? parseJson(text) : null;
  } catch {
    data = { title: "Unreadable answer", detail: text.slice(0, 200) };
  }
  if (!response.ok) throw new ApiError(response.status, data || {});
  return { data, position: response.headers.get("Ledger-Position") };
}

export const get = (path, query) => call("GET", path, { query });
