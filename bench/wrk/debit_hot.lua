-- Authorize-and-deduct 1 credit on ONE wallet, a fresh Idempotency-Key per request.
--   wrk -s debit_hot.lua URL -- <run_tag> <api_key> <wallet_id>
-- The key is "<run_tag>-<thread>-<counter>", unique across threads and runs.
-- done() (report.lua) prints the BENCH_JSON line.

dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "report.lua")

function init(args)
  run_tag = args[1]
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. args[2],
  }
  path = "/v1/wallets/" .. args[3] .. "/debits"
  counter = 0
  statuses = {}
end

function request()
  counter = counter + 1
  headers["Idempotency-Key"] = run_tag .. "-" .. tid .. "-" .. counter
  return wrk.format("POST", path, headers, '{"amount":1}')
end

function response(status, headers, body)
  count_status(tostring(status))
end
