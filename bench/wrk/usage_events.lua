-- Usage ingest: POST /v1/usage-events with batches of 1,000 unbilled events spread over N
-- wallets, every event id fresh (so every event is accepted: dedup is checked, never hit).
--   wrk -s usage_events.lua URL -- <run_tag> <api_key> <wallet_prefix> <n_wallets>
-- Event j of a request goes to wallet "<wallet_prefix><(start + j) % N + 1>", the start
-- moving by 1,000 each request, so consecutive batches cover every wallet evenly.
-- Each 200's "accepted" count is summed under the status key "events_accepted".

dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "report.lua")

local BATCH = 1000

function init(args)
  run_tag = args[1]
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. args[2],
  }
  wallet_prefix = args[3]
  n_wallets = tonumber(args[4])
  counter = 0
  statuses = {}
end

function request()
  counter = counter + 1
  -- The server's clock, to the second: well inside the 5-minute future limit and never late.
  local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local id_prefix = run_tag .. "-" .. tid .. "-" .. counter .. "-"
  local start = (tid * 7919 + counter * BATCH) % n_wallets
  local parts = {}
  for j = 1, BATCH do
    parts[j] = '{"event_id":"' .. id_prefix .. j
      .. '","wallet_id":"' .. wallet_prefix .. ((start + j) % n_wallets + 1)
      .. '","type":"llm.completion","occurred_at":"' .. now
      .. '","subject":{"user_id":"u' .. (j % 50) .. '","model":"gpt-4.1"}'
      .. ',"quantities":{"input_tokens":1200,"output_tokens":350},"properties":{}}'
  end
  local body = '{"events":[' .. table.concat(parts, ",") .. "]}"
  return wrk.format("POST", "/v1/usage-events", headers, body)
end

function response(status, headers, body)
  count_status(tostring(status))
  if status == 200 then
    local accepted = tonumber(body:match('"accepted":(%d+)') or "0")
    statuses["events_accepted"] = (statuses["events_accepted"] or 0) + accepted
  end
end
