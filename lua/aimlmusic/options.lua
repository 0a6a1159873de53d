-- The options of music.new: their defaults, and the one check of each. A number out of its
-- range, a journal that is not a path or a malformed expected_seconds is a config error
-- naming the option; nothing here raises.

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local new_error = require("aimlmusic.errors").new

local M = {}

M.defaults = {
  base_url = "https://api.aimlapi.com",
  timeout = 60,          -- seconds, one HTTP request
  connect_timeout = 10,  -- seconds, establishing a connection
  -- poll_interval = n   -- seconds between status polls in wait(); without it, a schedule
  --                      -- learned from the client's finished jobs (aimlmusic/schedule.lua),
  --                      -- starting from expected_seconds = {earliest, typical} ({45, 60})
  wait_timeout = 900,    -- seconds wait() follows a job before giving up
  max_retries = 3,       -- retries of a failed request that is safe to repeat
  low_speed_limit = 1024, -- bytes per second: a download slower than this ...
  low_speed_time = 30,   -- ... for this many seconds ends with kind "timeout" (retried)
  max_bytes = 512 * 1024 * 1024, -- a download past this many bytes ends with kind "protocol"
  download_timeout = 3600, -- seconds one download may take in all, retries included: 512 MiB
  --                      -- at 150 KB/s; past it, kind "timeout" (the stall and speed floors too)
  -- journal = path      -- record submitted jobs durably, for client:resume() after a crash
  -- tls_verify = true   -- set to false, by name, to accept any certificate
  -- ca_file, proxy      -- a CA bundle; a proxy (libcurl's *_proxy variables work too)
  -- allow_http = false  -- plain http is accepted for loopback hosts only, unless this is true
}

-- Every numeric option, checked here and nowhere else: {least, most, integer}. The bounds keep
-- each value meaningful where C takes it (milliseconds in a long, say).
local MAX_SECONDS = 2147483 -- about 24 days: the longest libcurl timeout on every platform
local NUMERIC = {
  timeout = { 0.001, MAX_SECONDS },
  connect_timeout = { 0.001, MAX_SECONDS },
  poll_interval = { 0.001, MAX_SECONDS },
  wait_timeout = { 0.001, MAX_SECONDS },
  max_retries = { 0, 100, true },
  low_speed_limit = { 1, 2 ^ 31 - 1, true },
  low_speed_time = { 1, MAX_SECONDS, true },
  max_bytes = { 1, 2 ^ 53, true },
  download_timeout = { 0.001, MAX_SECONDS },
}

local function bad_number(k, rule, v)
  return new_error("config", ("option %s must be %s from %s to %s, got %s"):format(k,
    rule[3] and "a whole number" or "a number", tostring(rule[1]), tostring(rule[2]), tostring(v)))
end

-- Which checked numbers the client keeps, and which the core's session takes.
local KEPT = { "timeout", "connect_timeout", "poll_interval", "wait_timeout", "max_retries", "download_timeout" }
local SESSION = { "timeout", "connect_timeout", "low_speed_limit", "low_speed_time", "max_bytes" }

local function pick(from, names, into)
  for _, k in ipairs(names) do into[k] = from[k] end
  return into
end

--- A per-call number (download_timeout in download's opts, say): v, or nil and the config
-- error music.new would give for it. nil stays nil.
function M.check_number(k, v)
  local rule = NUMERIC[k]
  if v == nil then return nil end
  if type(v) ~= "number" or v ~= v or v < rule[1] or v > rule[2] or (rule[3] and v % 1 ~= 0) then
    return nil, bad_number(k, rule, v)
  end
  return v
end

-- opts checked, with the defaults and the environment (AIMLAPI_KEY, AIMLAPI_BASE_URL) filled
-- in: the fields of the client, the options of its session in the core (core.session, which
-- alone holds the key) and expected_seconds. Or nil and a config error naming the first bad
-- option.
function M.check(opts)
  local n = {}
  for k, rule in pairs(NUMERIC) do
    local v = opts[k]
    if v == nil then
      v = M.defaults[k]
    elseif type(v) ~= "number" or v ~= v or v < rule[1] or v > rule[2] or (rule[3] and v % 1 ~= 0) then
      return nil, bad_number(k, rule, v)
    end
    n[k] = v
  end
  if opts.journal ~= nil and (type(opts.journal) ~= "string" or opts.journal == "" or opts.journal:find("\0", 1, true)) then
    -- A NUL would cut the path where the system reads it: the journal would be another file.
    return nil, new_error("config", "option journal must be a file path (non-empty, without a NUL byte)")
  end
  local expected = opts.expected_seconds
  if expected ~= nil and not (type(expected) == "table" and type(expected[1]) == "number"
      and type(expected[2]) == "number" and expected[1] >= 0 and expected[2] > 0) then
    return nil, new_error("config", "option expected_seconds must be {earliest, typical} in seconds")
  end
  local key = opts.api_key
  if key == nil then key = os.getenv("AIMLAPI_KEY") end
  local base_url = opts.base_url or os.getenv("AIMLAPI_BASE_URL") or M.defaults.base_url
  local client = pick(n, KEPT, { base_url = base_url, journal = opts.journal })
  -- The URL rule (http(s) only, no user name, plain http to loopback only unless allow_http)
  -- is libcurl's parser in C, for base_url here and for every download and redirect later.
  local session = pick(n, SESSION, {
    api_key = key, base_url = base_url, ca_file = opts.ca_file, proxy = opts.proxy,
    allow_http = opts.allow_http and true or false, tls_verify = opts.tls_verify ~= false,
  })
  return client, session, expected
end

return M
