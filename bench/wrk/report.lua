-- Shared by every scenario script (loaded with dofile): the thread registry, status
-- counting, and done(), which prints one line "BENCH_JSON {...}": requests answered and
-- sent (the difference was in flight when time ran out: it may or may not have committed),
-- latency percentiles in microseconds, socket errors and status counts.
-- A scenario's init() must set the per-thread globals `counter` (requests sent) and
-- `statuses` (a table), and count each answer with count_status(key).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function count_status(key)
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
