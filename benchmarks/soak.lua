-- wrk script for benchmarks/soak.py: every request comes from a new fingerprint (a new
-- visitor), with GK_EVENTS events of unique ids. Env: GK_KEY (public key), GK_EVENTS,
-- GK_PREFIX (unique per wrk run, so fingerprints never repeat across runs).
local key = os.getenv("GK_KEY")
local per_request = tonumber(os.getenv("GK_EVENTS") or "1")
local run = os.getenv("GK_PREFIX") or tostring(os.time())
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
  prefix = run .. "-" .. (tid or 0)
end

function request()
  counter = counter + 1
  local events = {}
  for i = 1, per_request do
    events[i] = string.format(
      '{"id":"%s-%d-%d","eventName":"page_viewed","properties":{"path":"/p/%d"}}',
      prefix, counter, i, counter % 50)
  end
  local body = string.format(
    '{"fingerprint":"fp-%s-%d","context":{"url":"https://app.example/","screenResolution":"1920x1080"},"events":[%s]}',
    prefix, counter, table.concat(events, ","))
  return wrk.format(nil, "/api/v1/track", nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    bad = (bad or 0) + 1
    if bad < 3 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
  end
end
