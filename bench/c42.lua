-- wrk script of the C42 benchmark (bench/wrk.py runs it).
-- The request comes from the environment (so no secret shows in `ps`):
--   C42_WRK_METHOD  (default GET), C42_WRK_BODY (optional),
--   C42_WRK_HEADERS "Name: value" lines separated by newlines,
--   C42_WRK_HEADER_SETS (optional) blocks of such lines separated by blank lines: each
--   request then adds the next block's headers, in turn (e.g. one token per user).
-- Every response whose status is not 2xx is counted (3xx included, which wrk's own
-- "Non-2xx or 3xx responses" line does not count) and `done` prints one JSON line
-- starting with "C42BENCH " for bench/wrk.py to parse.

wrk.method = os.getenv("C42_WRK_METHOD") or "GET"
local body = os.getenv("C42_WRK_BODY")
if body ~= nil and body ~= "" then
  wrk.body = body
end

local function parse_headers(text, into)
  for line in string.gmatch(text, "[^\n]+") do
    local name, value = string.match(line, "^([^:]+):%s*(.-)%s*$")
    if name ~= nil then
      into[name] = value
    end
  end
  return into
end

parse_headers(os.getenv("C42_WRK_HEADERS") or "", wrk.headers)

local header_sets = os.getenv("C42_WRK_HEADER_SETS") or ""
if header_sets ~= "" then
  local requests, next_request = {}, 1
  function init_requests()
    for block in string.gmatch(header_sets .. "\n\n", "(.-)\n\n") do
      if block ~= "" then
        local headers = parse_headers(block, {})
        for name, value in pairs(wrk.headers) do
          if headers[name] == nil then
            headers[name] = value
          end
        end
        table.insert(requests, wrk.format(nil, nil, headers))
      end
    end
  end
  function request()
    if #requests == 0 then
      init_requests()
    end
    local r = requests[next_request]
    next_request = next_request % #requests + 1
    return r
  end
end

-- C42_WRK_BODIES_FILE (optional): one body per line, each sent once (e.g. refresh tokens,
-- which rotate). Thread k of C42_WRK_THREADS sends lines k, k + threads, ...; past the end
-- it sends an empty body, which the server refuses (counted as non-2xx).
local bodies_file = os.getenv("C42_WRK_BODIES_FILE") or ""
if bodies_file ~= "" then
  local bodies, next_body, step = nil, 1, tonumber(os.getenv("C42_WRK_THREADS") or "1")
  function request()
    if bodies == nil then
      bodies = {}
      local k = 0
      for line in io.lines(bodies_file) do
        if k % step == thread_index then
          table.insert(bodies, line)
        end
        k = k + 1
      end
    end
    local one = bodies[next_body] or ""
    next_body = next_body + 1
    return wrk.format(nil, nil, nil, one)
  end
end

-- C42_WRK_THREAD_REQUESTS_FILE (optional): line k is thread k's one request, sent over and
-- over: headers ("Name: value", tab-separated), a 0x1F byte, the body (e.g. one writer per
-- thread, each with its own token and calendar; bench/writes.py). Run with -t N -c N.
local thread_requests_file = os.getenv("C42_WRK_THREAD_REQUESTS_FILE") or ""
if thread_requests_file ~= "" then
  local mine = nil
  function request()
    if mine == nil then
      local k = 0
      for line in io.lines(thread_requests_file) do
        if k == thread_index then
          local head, payload = string.match(line, "^(.-)\31(.*)$")
          local headers = {}
          for name, value in string.gmatch(head, "([^:\t]+):%s*([^\t]*)") do
            headers[name] = value
          end
          for name, value in pairs(wrk.headers) do
            if headers[name] == nil then
              headers[name] = value
            end
          end
          mine = wrk.format(nil, nil, headers, payload)
        end
        k = k + 1
      end
    end
    return mine
  end
end

-- C42_WRK_ONCE_HEADERS_FILE (optional): one "Name: value" header per line, each sent once
-- on top of the fixed headers (e.g. DPoP proofs: a proof's jti is accepted once; bench/dpop.py).
-- Thread k of C42_WRK_THREADS sends lines k, k + threads, ...; past the end it sends the fixed
-- headers alone, which the server refuses (counted as non-2xx).
local once_file = os.getenv("C42_WRK_ONCE_HEADERS_FILE") or ""
if once_file ~= "" then
  local lines, next_line, step = nil, 1, tonumber(os.getenv("C42_WRK_THREADS") or "1")
  local headers, name = {}, nil
  function request()
    if lines == nil then
      lines = {}
      local k = 0
      for line in io.lines(once_file) do
        if k % step == thread_index then
          local n, value = string.match(line, "^([^:]+):%s*(.-)%s*$")
          name = n
          table.insert(lines, value)
        end
        k = k + 1
      end
      for n, value in pairs(wrk.headers) do
        headers[n] = value
      end
    end
    if name ~= nil then
      headers[name] = lines[next_line]  -- nil past the end: the header is left out
    end
    next_line = next_line + 1
    return wrk.format(nil, nil, headers)
  end
end

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  ok = 0
  bad = 0
  bad_codes = ""
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    bad = bad + 1
    if #bad_codes < 200 then
      bad_codes = bad_codes .. status .. " "
    end
  end
end

function done(summary, latency, requests)
  local total_ok, total_bad, codes = 0, 0, ""
  for _, thread in ipairs(threads) do
    total_ok = total_ok + (thread:get("ok") or 0)
    total_bad = total_bad + (thread:get("bad") or 0)
    codes = codes .. (thread:get("bad_codes") or "")
  end
  local e = summary.errors
  io.write(string.format(
    'C42BENCH {"requests":%d,"duration_us":%d,"bytes":%d,"ok":%d,"bad":%d,"bad_codes":"%s",' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes, total_ok, total_bad, codes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
