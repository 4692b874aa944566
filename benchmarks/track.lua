-- wrk script: batches of GK_EVENTS events (default 10) with unique event ids from many
-- fingerprints. Env: GK_KEY (public key), GK_FINGERPRINTS (how many leads), GK_DELAY_MS
-- (per-connection pause between requests, 0 = as fast as possible), GK_BEACON=1 (send
-- as navigator.sendBeacon does: text/plain, ?beacon=1, answered 204).
local key = os.getenv("GK_KEY")
local fingerprints = tonumber(os.getenv("GK_FINGERPRINTS") or "5000")
local delay_ms = tonumber(os.getenv("GK_DELAY_MS") or "0")
local per_request = tonumber(os.getenv("GK_EVENTS") or "10")
local beacon = os.getenv("GK_BEACON") == "1"
local names = {"page_viewed", "page_viewed", "page_viewed", "button_clicked", "feature_used",
               "signup_completed", "project_created", "search", "export_clicked", "settings_opened"}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = beacon and "text/plain;charset=UTF-8" or "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
  prefix = string.format("%x%06x", os.time(), math.random(0, 0xffffff))
end

function delay()
  return delay_ms
end

function request()
  counter = counter + 1
  local fp = "fp_" .. math.random(1, fingerprints)
  local events = {}
  for i = 1, per_request do
    events[i] = string.format(
      '{"id":"%s-%d-%d","eventName":"%s","properties":{"path":"/p/%d","n":%d}}',
      prefix, counter, i, names[math.random(1, #names)], math.random(1, 50), i)
  end
  local body = string.format(
    '{"fingerprint":"%s","context":{"url":"https://app.example/","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36","screenResolution":"1920x1080","viewport":"1280x720"},"events":[%s]}',
    fp, table.concat(events, ","))
  return wrk.format(nil, beacon and "/api/v1/track?beacon=1" or "/api/v1/track", nil, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = (bad or 0) + 1
    if bad < 3 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
  end
end
