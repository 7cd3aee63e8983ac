-- The HTTP floor: GET /healthz (no key, no store), to tell the web stack's own cost per
-- request apart from the ledger's.
--   wrk -s healthz.lua URL -- <run_tag> <api_key> (both ignored; same calling convention)

dofile((debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "report.lua")

function init(args)
  counter = 0
  statuses = {}
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/healthz")
end

function response(status, headers, body)
  count_status(tostring(status))
end
