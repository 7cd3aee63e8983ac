-- Two-phase spending: place a hold of 1 credit, then capture it, on one wallet.
--   wrk -s hold_capture.lua URL -- <run_tag> <api_key> <wallet_id>
-- wrk keeps Lua state per thread, not per connection, so each thread keeps a queue of holds
-- it placed: a connection ready to send captures the oldest placed hold if there is one,
-- otherwise places a new hold "h-<run_tag>-<thread>-<n>". The hold id of a placed hold is
-- read back from the 201 body in response(). Status counts are kept per kind:
-- "hold:201", "capture:200", and "other:<status>" for answers that are neither.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  run_tag = args[1]
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. args[2],
  }
  prefix = "/v1/wallets/" .. args[3] .. "/holds"
  counter = 0
  placed = 0
  ready = {}
  first, last = 1, 0
  statuses = {}
end

function request()
  counter = counter + 1
  headers["Idempotency-Key"] = run_tag .. "-" .. tid .. "-" .. counter
  if first <= last then
    local hold_id = ready[first]
    ready[first] = nil
    first = first + 1
    return wrk.format("POST", prefix .. "/" .. hold_id .. "/capture", headers, "{}")
  end
  placed = placed + 1
  local hold_id = "h-" .. run_tag .. "-" .. tid .. "-" .. placed
  local body = '{"amount":1,"hold_id":"' .. hold_id .. '"}'
  return wrk.format("POST", prefix, headers, body)
end

function response(status, headers, body)
  local kind = "other"
  if status == 201 and string.find(body, '"status":"open"', 1, true) then
    kind = "hold"
    local hold_id = string.match(body, '"hold_id":"([^"]+)"')
    last = last + 1
    ready[last] = hold_id
  elseif status == 200 and string.find(body, '"status":"captured"', 1, true) then
    kind = "capture"
  end
  local key = kind .. ":" .. status
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  local sent = 0
  for _, thread in ipairs(threads) do
    sent = sent + thread:get("counter")
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%s":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"sent":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,'
      .. '"mean_us":%.1f,"max_us":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,'
      .. '"timeout":%d},"status_counts":{%s}}\n',
    summary.requests, sent, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max, e.connect, e.read, e.write,
    e.timeout, table.concat(parts, ",")))
end
