-- wrk script for bench/webhook.py: replays pre-signed WeChat deliveries, each at most once.
--
-- Usage: wrk -s bench/webhook.lua <url> -- <requests file> <wrk threads>
-- Each line of the file is "<path?query>\t<xml body>". Thread k sends lines k, k+n, ...
-- so no two threads send the same delivery; a thread that runs out starts over and counts
-- it in "wrapped" (a re-sent MsgId is answered from the reply cache, so the Python side
-- reports the run as invalid). done() prints one line starting with BENCH as JSON.

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  local headers = { ["Content-Type"] = "text/xml" }
  requests = {}
  local line_number = 0
  for line in io.lines(path) do
    if line_number % nthreads == id - 1 then
      local target, body = line:match("^([^\t]+)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", target, headers, body)
    end
    line_number = line_number + 1
  end
  next_request = 1
  wrapped = 0
end

function request()
  local prepared = requests[next_request]
  next_request = next_request + 1
  if next_request > #requests then
    next_request = 1
    wrapped = wrapped + 1
  end
  return prepared
end

function done(summary, latency, _)
  local total_wrapped = 0
  for _, thread in ipairs(threads) do
    total_wrapped = total_wrapped + thread:get("wrapped")
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(99),
    latency.max, total_wrapped))
end
