-- Refresh-token rotation: each wrk thread owns one token family (one line of BENCH_TOKENS_FILE)
-- and one connection, sends its current refresh token and keeps the rotated one it gets back.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
end

function init(args)
  local n = 0
  for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
    n = n + 1
    if n == index then current = line end
  end
  path = wrk.path
end

function request()
  local headers = { ["Content-Type"] = "application/json" }
  return wrk.format("POST", path, headers, '{"refresh_token":"' .. current .. '"}')
end

function response(status, headers, body)
  local rotated = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if rotated then current = rotated end
end

function done(summary, latency, requests)
  bench_report(summary, latency)
end
