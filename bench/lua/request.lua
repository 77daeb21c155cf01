-- One fixed request, described by the environment (set by the harness):
--   BENCH_METHOD, BENCH_BODY, BENCH_CONTENT_TYPE, BENCH_TOKEN (sent as "Authorization: Bearer"),
--   BENCH_PAUSE_MS (each connection waits this long after an answer before its next request).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then wrk.body = body end
local content_type = os.getenv("BENCH_CONTENT_TYPE")
if content_type and content_type ~= "" then wrk.headers["Content-Type"] = content_type end
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end

local pause = tonumber(os.getenv("BENCH_PAUSE_MS") or "0") or 0
if pause > 0 then
  function delay() return pause end
end

function done(summary, latency, requests)
  bench_report(summary, latency)
end
