-- Two-phase spending: place a hold of 1 credit, then capture it, on one wallet.
--   wrk -s hold_capture.lua URL -- <run_tag> <api_key> <wallet_id>
-- wrk keeps Lua state per thread, not per connection, so each thread keeps a queue of holds
-- it placed: a connection ready to send captures the oldest placed hold if there is one,
-- otherwise places a new hold "h-<run_tag>-<thread>-<n>". The hold id of a placed hold is
-- read back from the 201 body in response(). Status counts are kept per kind:
-- "hold:201", "capture:200", and "other:<status>" for answers that are neither.

dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "report.lua")

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
  count_status(kind .. ":" .. status)
end
