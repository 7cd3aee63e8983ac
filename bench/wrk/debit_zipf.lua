-- Authorize-and-deduct 1 credit on one of N wallets chosen with a Zipf law (rank k has
-- weight 1/k^s), a fresh Idempotency-Key per request.
--   wrk -s debit_zipf.lua URL -- <run_tag> <api_key> <wallet_prefix> <n_wallets> <s>
-- Wallet of rank k is "<wallet_prefix><k>". The CDF is precomputed once per thread and
-- searched by bisection, so choosing a wallet costs O(log N).

dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "report.lua")

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
  count_status(tostring(status))
end
