--- The options of music.new and of each client call: one table says every name, its kind of
-- value, its default and what it does. The checks, the "did you mean" of an unknown name and
-- the reference all come from it, so adding an option is one line here. A misspelt name or a
-- value out of its range is a config error naming the option; nothing here raises.
-- @module aimlmusic.options

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local new_error = require("aimlmusic.errors").new
local events = require "aimlmusic.events"

local M = {}

local MAX_SECONDS = 2147483 -- about 24 days: the longest libcurl timeout on every platform

--- The kinds of value, each one check: {test(v) --> true | nil, what it must be}.
M.kinds = {}
local kinds = M.kinds

-- A number from lo to hi (a whole number when whole).
local function number(lo, hi, whole)
  local what = ("%s from %s to %s"):format(whole and "a whole number" or "a number", tostring(lo), tostring(hi))
  return function(v)
    if type(v) == "number" and v == v and v >= lo and v <= hi and not (whole and v % 1 ~= 0) then return true end
    return nil, what
  end
end
kinds.seconds = number(0.001, MAX_SECONDS)
kinds.retries = number(0, 100, true)
kinds.speed = number(1, 2 ^ 31 - 1, true)
kinds.whole_seconds = number(1, MAX_SECONDS, true)
kinds.bytes = number(1, 2 ^ 53, true)

local function typed(t, what)
  return function(v)
    if type(v) == t then return true end
    return nil, what
  end
end
kinds.string = typed("string", "a string")
-- A NUL would cut the path where the system reads it: the file would be another one.
function kinds.path(v)
  if type(v) == "string" and v ~= "" and not v:find("\0", 1, true) then return true end
  return nil, "a file path (non-empty, without a NUL byte)"
end
kinds.boolean = typed("boolean", "true or false")
kinds["function"] = typed("function", "a function")
-- A track's file path: checked with the file system before anything is paid for (a
-- validation error for a non-string, an io error for a path that cannot be written).
function kinds.output() return true end

function kinds.pair(v)
  if type(v) == "table" and type(v[1]) == "number" and type(v[2]) == "number" and v[1] >= 0 and v[2] > 0 then
    return true
  end
  return nil, "{earliest, typical} in seconds"
end

-- A level of events (aimlmusic.events.levels).
function kinds.level(v)
  if events.levels[v] then return true end
  return nil, "one of debug, info, warn, error"
end

-- Printable ASCII only: what goes into a header line can never end it or start another.
local function printable(s)
  return not s:find("[^\32-\126]")
end

function kinds.product(v)
  if type(v) == "string" and #v > 0 and #v <= 256 and printable(v) and not v:find("^ ") and not v:find(" $") then
    return true
  end
  return nil, "a product token such as \"myapp/1.2\" (printable ASCII, at most 256 bytes)"
end

--- Header names the library sets itself, which `headers` may not replace (lower case).
M.reserved_headers = {
  authorization = true, ["content-type"] = true, host = true, ["content-length"] = true,
  ["transfer-encoding"] = true, expect = true, ["user-agent"] = true, accept = true, connection = true,
}

-- An HTTP token (RFC 9110 tchar): the letters a header name may have.
local TOKEN = "^[%w!#$%%&'*+%-.^_`|~]+$"

-- (A third result true: the second is the whole reason, not what the value must be.)
function kinds.headers(v)
  if type(v) ~= "table" then return nil, "a table of header names and values" end
  for name, value in pairs(v) do
    if type(name) ~= "string" or not name:find(TOKEN) then
      return nil, ("%q is not a header name"):format(tostring(name)), true
    end
    if M.reserved_headers[name:lower()] then
      return nil, ("%s is set by the library and cannot be replaced%s"):format(name,
        name:lower() == "user-agent" and " (the user_agent option adds to it)" or ""), true
    end
    -- (libcurl would take an empty value as "remove this header" and send nothing.)
    if type(value) ~= "string" or #value > 4096 or not value:find("^[\32-\126]*$") or not value:find("[^ ]") then
      return nil, ("the value of %s must be printable ASCII, not empty (no CR, LF or other control)"):format(name), true
    end
  end
  return true
end

--- Every option of music.new: name = {kind, default, what it does}. nil default: none (or
-- the environment's, as said).
M.client = {
  api_key = { "string", nil, "the API key (default: the environment variable AIMLAPI_KEY)" },
  base_url = { "string", "https://api.aimlapi.com", "the API (default: AIMLAPI_BASE_URL, then this)" },
  timeout = { "seconds", 60, "seconds one HTTP request may take (a download: may go without a byte)" },
  connect_timeout = { "seconds", 10, "seconds to establish a connection" },
  poll_interval = { "seconds", nil, "seconds between status polls in wait (default: a schedule learned "
                      .. "from the client's finished jobs, see aimlmusic.schedule)" },
  expected_seconds = { "pair", nil, "{earliest, typical}: the schedule's guess before any job finished ({45, 60})" },
  wait_timeout = { "seconds", 900, "seconds wait follows a job before giving up" },
  max_retries = { "retries", 3, "retries of a failed request that is safe to repeat" },
  low_speed_limit = { "speed", 1024, "bytes per second: a download slower than this ..." },
  low_speed_time = { "whole_seconds", 30, "... for this many seconds ends with kind timeout (retried)" },
  max_bytes = { "bytes", 512 * 1024 * 1024, "a download past this many bytes ends with kind protocol" },
  download_timeout = { "seconds", 3600, "seconds one download may take in all, retries included (512 MiB at 150 KB/s)" },
  journal = { "path", nil, "a file path: every submitted job is recorded there, for Client:resume" },
  tls_verify = { "boolean", true, "false, by name, accepts any certificate" },
  ca_file = { "string", nil, "a CA bundle" },
  ca_path = { "string", nil, "a hashed CA directory (OpenSSL c_rehash layout)" },
  proxy = { "string", nil, "a proxy URL (libcurl's *_proxy variables work too)" },
  allow_http = { "boolean", false, "plain http to hosts other than loopback" },
  user_agent = { "product", nil, "a product token sent after aimlmusic/VERSION in the User-Agent" },
  headers = { "headers", nil, "extra headers for API requests, {name = value} (never sent to the audio's host)" },
  on_event = { "function", nil, "on_event(ev): one table per request, response, retry, redirect, stall, "
                 .. "download milestone and journal record (see aimlmusic.events)" },
  log_level = { "level", "info", "the least level of event given to on_event (without on_event: "
                  .. "written to stderr)" },
}

-- Options several calls share.
local REQUEST_TIMEOUT = { "seconds", nil, "seconds this call's HTTP requests may take (the client's timeout)" }
local MAX_RETRIES = { "retries", nil, "retries of this call's requests (the client's max_retries)" }
local OVERWRITE = { "boolean", false, "replace an existing file" }

--- Every option of each call's opts: call = {name = {kind, default, what it does}}.
M.calls = {
  submit = {
    output = { "output", nil, "where Client:resume puts the track (checked before the job is paid for)" },
    overwrite = OVERWRITE,
    timeout = REQUEST_TIMEOUT,
    max_retries = MAX_RETRIES,
  },
  status = {
    timeout = REQUEST_TIMEOUT,
    max_retries = { "retries", 0, "retries of the status request (0: one request)" },
  },
  wait = {
    interval = { "seconds", nil, "seconds between polls (the client's poll_interval, else the schedule)" },
    timeout = { "seconds", nil, "seconds to follow the job (the client's wait_timeout)" },
    on_status = { "function", nil, "on_status(st), called when the status changes" },
    max_retries = MAX_RETRIES,
  },
  download = {
    overwrite = OVERWRITE,
    on_progress = { "function", nil, "on_progress(bytes, total), total nil when unknown" },
    timeout = REQUEST_TIMEOUT,
    max_retries = MAX_RETRIES,
    download_timeout = { "seconds", nil, "seconds the whole download may take (the client's download_timeout)" },
  },
}
-- generate and resume take what wait and download take (timeout is wait's) and their own.
local function merge(...)
  local out = {}
  for i = select("#", ...), 1, -1 do
    for k, v in pairs((select(i, ...))) do out[k] = v end
  end
  return out
end
M.calls.generate = merge({
  output = { "output", nil, "where the track goes; without it, generate stops once the job completes" },
  on_submit = { "function", nil, "on_submit(job), called once the job exists" },
}, M.calls.wait, M.calls.download)
M.calls.resume = merge({
  id = { "string", nil, "only this job of the journal (one task per job: each cancelled on its own)" },
}, M.calls.wait, M.calls.download)

--- The number of single-character edits (insert, delete, replace, swap two) from a to b.
function M.distance(a, b)
  local prev2, prev = nil, {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if prev2 and i > 1 and j > 1 and a:sub(i, i) == b:sub(j - 1, j - 1) and a:sub(i - 1, i - 1) == b:sub(j, j) then
        cur[j] = math.min(cur[j], prev2[j - 2] + 1)
      end
    end
    prev2, prev = prev, cur
  end
  return prev[#b]
end

--- The known name closest to name, when it is close enough to be a slip; else nil.
function M.closest(name, known)
  local best, best_d
  for k in pairs(known) do
    local d = M.distance(name:lower(), k)
    if not best_d or d < best_d or (d == best_d and k < best) then best, best_d = k, d end
  end
  if best_d and best_d <= math.max(2, math.floor(#name / 3)) then return best end
  return nil
end

-- The config error for an unknown option name of `where` (nil: music.new).
local function unknown(name, known, where)
  local hint = type(name) == "string" and M.closest(name, known)
  return new_error("config", ("unknown option '%s'%s%s"):format(tostring(name),
    where and " of " .. where or "", hint and (" (did you mean '%s'?)"):format(hint) or ""))
end

--- Checks a table of options against the table of known ones (M.client, or M.calls[call]):
-- true, or nil and a config error naming the first unknown or bad one.
---@param opts table
---@param known table name = {kind, default, doc}
---@param where? string the call, for the message ("client:wait"); nil for music.new
function M.validate(opts, known, where)
  local names = {}
  for k in pairs(opts) do names[#names + 1] = tostring(k) end
  table.sort(names) -- the same error every run
  for _, name in ipairs(names) do
    local spec = known[name]
    if not spec then return nil, unknown(name, known, where) end
    local ok, what, whole = kinds[spec[1]](opts[name])
    if not ok then
      local v = opts[name]
      return nil, new_error("config", whole and ("option %s%s: %s"):format(name, where and " of " .. where or "", what)
        or ("option %s%s must be %s, got %s"):format(name, where and " of " .. where or "", what,
          type(v) == "number" and tostring(v) or type(v)))
    end
  end
  return true
end

--- The opts of a public call checked: true, or nil and a config error.
function M.check_call(call, opts)
  if next(opts) == nil then return true end -- most calls pass none: nothing to sort or check
  return M.validate(opts, M.calls[call], "client:" .. call)
end

--- Only the options of opts that call takes (what generate hands to wait, say).
function M.only(call, opts)
  local out = {}
  for k in pairs(M.calls[call]) do out[k] = opts[k] end
  return out
end

--- The default of a client option.
M.defaults = {}
for k, spec in pairs(M.client) do M.defaults[k] = spec[2] end

-- Which checked values the client keeps, and which the core's session takes.
local KEPT = { "timeout", "connect_timeout", "poll_interval", "wait_timeout", "max_retries", "download_timeout" }
local SESSION = {
  "timeout", "connect_timeout", "low_speed_limit", "low_speed_time", "max_bytes", "ca_file", "ca_path", "proxy",
}

local function pick(from, names, into)
  for _, k in ipairs(names) do into[k] = from[k] end
  return into
end

-- The headers as sorted "Name: value" lines, for the core.
local function header_lines(headers)
  local lines = {}
  for name, value in pairs(headers or {}) do lines[#lines + 1] = name .. ": " .. value end
  table.sort(lines)
  return lines
end

--- A per-call number (download_timeout in download's opts, say): v, or nil and the config
-- error music.new would give for it. nil stays nil.
function M.check_number(k, v)
  if v == nil then return nil end
  local ok, err = M.validate({ [k] = v }, M.client)
  if not ok then return nil, err end
  return v
end

--- opts checked, with the defaults and the environment (AIMLAPI_KEY, AIMLAPI_BASE_URL) filled
-- in: the fields of the client, the options of its session in the core (core.session, which
-- alone holds the key) and expected_seconds. Or nil and a config error naming the first bad
-- option. version: "aimlmusic X.Y.Z" (music._VERSION), the start of the User-Agent.
function M.check(opts, version)
  local ok, err = M.validate(opts, M.client)
  if not ok then return nil, err end
  local n = {}
  for k, spec in pairs(M.client) do
    local v = opts[k]
    if v == nil then v = spec[2] end
    n[k] = v
  end
  local key = opts.api_key
  if key == nil then key = os.getenv("AIMLAPI_KEY") end
  local base_url = opts.base_url or os.getenv("AIMLAPI_BASE_URL") or M.defaults.base_url
  local client = pick(n, KEPT, { base_url = base_url, journal = opts.journal })
  -- The URL rule (http(s) only, no user name, plain http to loopback only unless allow_http)
  -- is libcurl's parser in C, for base_url here and for every download and redirect later.
  local session = pick(n, SESSION, {
    api_key = key, base_url = base_url, allow_http = n.allow_http, tls_verify = n.tls_verify,
    user_agent = (version or "aimlmusic"):gsub(" ", "/", 1) .. (opts.user_agent and " " .. opts.user_agent or ""),
    headers = header_lines(opts.headers),
  })
  return client, session, opts.expected_seconds
end

return M
