-- Shared by the workload scripts (loaded with dofile; wrk runs with bench/lua as its cwd).
--
-- Arguments after `--` (always three, possibly empty):
--   1. path template: "{id}" is replaced by the next id of the ids file (rotating scripts)
--   2. ids file: one id per line
--   3. body template: "%d" is replaced by a rotating number (0-999)
--
-- Every response's status is counted per thread; done() sums them over the threads and prints
-- one line "BENCH_JSON {...}" that bench/wrk.py parses. A run with any non-2xx status or any
-- socket error is reported as invalid by the harness.

local threads = {}
counts = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  local key = tostring(status)
  counts[key] = (counts[key] or 0) + 1
end

local function arg_or_nil(value)
  if value == nil or value == "" then
    return nil
  end
  return value
end

-- The same request on every call (lists, create, hello): wrk builds it once after init().
function static_request(method)
  init = function(args)
    wrk.method = method
    wrk.body = arg_or_nil(args[3])
  end
end

-- A request per call over the ids of the ids file, in order, wrapping around.
function rotating_request(method)
  local ids, prefix, suffix, body, n = {}, "", "", nil, 0
  init = function(args)
    local at = string.find(args[1], "{id}", 1, true)
    prefix, suffix = string.sub(args[1], 1, at - 1), string.sub(args[1], at + 4)
    for line in io.lines(args[2]) do
      if line ~= "" then
        table.insert(ids, line)
      end
    end
    body = arg_or_nil(args[3])
  end
  request = function()
    n = n + 1
    local id = ids[(n - 1) % #ids + 1]
    local payload = nil
    if body then
      payload = string.format(body, n % 1000)
    end
    return wrk.format(method, prefix .. id .. suffix, nil, payload)
  end
end

function done(summary, latency, requests)
  local statuses = {}
  for _, thread in ipairs(threads) do
    for key, value in pairs(thread:get("counts")) do
      statuses[key] = (statuses[key] or 0) + value
    end
  end
  local parts = {}
  for key, value in pairs(statuses) do
    parts[#parts + 1] = string.format('"%s": %d', key, value)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "statuses": {%s}, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %d}}\n',
    summary.requests, summary.duration, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.status, e.timeout,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(90)),
    math.floor(latency:percentile(99)), math.floor(latency.max), math.floor(latency.mean)
  ))
end
