-- POST /v1/batch: N debits of 1 credit each over wallets chosen with a Zipf law (rank k has
-- weight 1/k^s), every operation with a fresh idempotency key.
--   wrk -s batch_zipf.lua URL -- <run_tag> <api_key> <wallet_prefix> <n_wallets> <s> <ops>
-- Counts the HTTP status of each answer ("http:<status>") and the status of every result in
-- it ("item:<status>", read from the body: results are {"index","status","body",...}).

dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "report.lua")

function init(args)
  run_tag = args[1]
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. args[2],
  }
  prefix = args[3]
  local n = tonumber(args[4])
  local s = tonumber(args[5])
  ops = tonumber(args[6])
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
  local key = run_tag .. "-" .. tid .. "-" .. counter .. "-"
  local parts = {}
  for j = 1, ops do
    parts[j] = '{"op":"debit","wallet_id":"' .. prefix .. pick()
      .. '","idempotency_key":"' .. key .. j .. '","amount":1}'
  end
  local body = '{"operations":[' .. table.concat(parts, ",") .. "]}"
  return wrk.format("POST", "/v1/batch", headers, body)
end

function response(status, headers, body)
  count_status("http:" .. status)
  if status == 200 then
    for item in string.gmatch(body, '"status":(%d+),"body"') do
      count_status("item:" .. item)
    end
  end
end
