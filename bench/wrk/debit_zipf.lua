-- Authorize-and-deduct 1 credit on one of N wallets chosen with a Zipf law (rank k has
-- weight 1/k^s), a fresh Idempotency-Key per request.
--   wrk -s debit_zipf.lua URL -- <run_tag> <api_key> <wallet_prefix> <n_wallets> <s>
-- Wallet of rank k is "<wallet_prefix><k>". The CDF is precomputed once per thread and
-- searched by bisection, so choosing a wallet costs O(log N).

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
  prefix = "/v1/wallets/" .. args[3]
  local n = tonumber(args[4])
  local s = tonumber(args[5])
  cdf = {}
  local total = 0
  for k = 1, n do
    total = total + 1 / k ^ s
    cdf[k] = total
  end
  for k = 1, n do
    cdf[k] = cdf[k] / total
  end
  math.randomseed(tid * 7919 + os.time())
  counter = 0
  statuses = {}
end

local function pick()
  local r = math.random()
  local lo, hi = 1, #cdf
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < r then
      lo = mid + 1
    else
      hi = mid
    end
  end
  return lo
end

function request()
  counter = counter + 1
  headers["Idempotency-Key"] = run_tag .. "-" .. tid .. "-" .. counter
  return wrk.format("POST", prefix .. pick() .. "/debits", headers, '{"amount":1}')
end

function response(status, headers, body)
  local key = tostring(status)
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
