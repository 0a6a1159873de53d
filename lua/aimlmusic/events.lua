--- Seeing what a client does: one table per event, given to the client's `on_event` hook and,
-- with the environment variable AIMLMUSIC_LOG=debug|info|warn|error, written to stderr one
-- line each, without any change to the code.
--
-- Every event has `kind`, `level` (debug, info, warn, error) and `time` (os.time()); the rest
-- by kind:
--
-- - `request` (debug): `request` (submit, status or download), `method`, `url` (an audio URL
--   without its query), `attempt` (1 for the first try), `id` (the job, when known)
-- - `response` (info): the same, and `status` (HTTP, absent when no answer came), `elapsed`
--   (seconds), `request_id`, `error` (kind: message, when it failed)
-- - `retry` (warn): `request`, `attempt` (the one that failed), `max_retries`, `delay`
--   (seconds), `cause` (one line), `error_kind`, `status`
-- - `redirect` (info): `from` and `host`, host names only
-- - `stall` (warn): a download ended for lack of bytes: `bytes`, `seconds`, `reason`
-- - `progress` (info): download milestones, every 25% (every 10 MiB when the size is
--   unknown): `bytes`, `total`, `percent`
-- - `status` (info): a job's status changed: `id`, `status`
-- - `journal` (debug): a journal record: `op` (submit, delivered, done), `id`, `journal`
--   (its path)
--
-- No event carries the API key: a URL, a message or a header that could hold it is never put
-- in one. An error raised by the hook is contained: it never breaks the job.
--
--    local client = music.new { on_event = function(ev) print(music.format_event(ev)) end,
--                               log_level = "debug" }
-- @module aimlmusic.events

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local M = {}

--- The levels, least first, and their rank.
M.levels = { debug = 1, info = 2, warn = 3, error = 4 }

--- The environment variable that writes events to stderr.
M.ENV = "AIMLMUSIC_LOG"

local MIB = 1024 * 1024

local function size(bytes)
  if type(bytes) ~= "number" then return "?" end
  if bytes >= MIB then return ("%.1f MiB"):format(bytes / MIB) end
  if bytes >= 1024 then return ("%.1f KiB"):format(bytes / 1024) end
  return ("%d B"):format(bytes)
end

local function seconds(s)
  if type(s) ~= "number" then return "?" end
  return ("%.3gs"):format(s)
end

-- What each kind says after "aimlmusic: LEVEL ", from the event's fields.
local LINES = {
  request = function(ev)
    return ("%s %s (%s, attempt %s%s)"):format(ev.method, ev.url, ev.request, ev.attempt,
      ev.id and ", job " .. ev.id or "")
  end,
  response = function(ev)
    return ("%s %s -> %s in %s (%s%s%s)"):format(ev.method, ev.url, ev.status or "no answer",
      seconds(ev.elapsed), ev.request, ev.request_id and ", request_id " .. ev.request_id or "",
      ev.error and ", " .. ev.error or "")
  end,
  retry = function(ev)
    return ("retrying %s in %s after %s (retry %s of %s)"):format(ev.request, seconds(ev.delay), ev.cause,
      ev.attempt, ev.max_retries)
  end,
  redirect = function(ev)
    return ("redirect from %s to %s"):format(ev.from or "?", ev.host or "?")
  end,
  stall = function(ev)
    return ("download stalled at %s: %s"):format(size(ev.bytes), ev.reason or "")
  end,
  progress = function(ev)
    if ev.percent then return ("download %d%% (%s of %s)"):format(ev.percent, size(ev.bytes), size(ev.total)) end
    return ("download %s"):format(size(ev.bytes))
  end,
  status = function(ev)
    return ("job %s %s"):format(ev.id, ev.status)
  end,
  journal = function(ev)
    return ("journal %s %s (%s)"):format(ev.op, ev.id, ev.journal)
  end,
}

local SKIP = { kind = true, level = true, time = true }

--- One line saying what ev says, without a newline:
-- `aimlmusic: warn: retrying submit in 0.52s after server: HTTP 503 (retry 1 of 3)`.
-- The command line's --verbose and the Neovim plugin print these.
---@param ev table an event
---@return string line
function M.format(ev)
  local line = LINES[ev.kind]
  local ok, text = false, nil
  if line then ok, text = pcall(line, ev) end
  if not ok then
    -- A kind without its own words: its fields, sorted.
    local names, parts = {}, {}
    for k in pairs(ev) do
      if not SKIP[k] then names[#names + 1] = tostring(k) end
    end
    table.sort(names)
    for _, k in ipairs(names) do parts[#parts + 1] = k .. "=" .. tostring(ev[k]) end
    text = tostring(ev.kind) .. " " .. table.concat(parts, " ")
  end
  return ("aimlmusic: %s: %s"):format(tostring(ev.level), (text:gsub("[%c]", " ")))
end

local function stderr_line(ev)
  io.stderr:write(M.format(ev), "\n")
end

--- The function that takes a client's events, or nil when none is wanted (then nothing builds
-- them). on_event: the user's hook; log_level: the least level it gets (default info; without a
-- hook, events of that level and up go to stderr); env: the value of AIMLMUSIC_LOG.
---@param on_event? fun(ev: table)
---@param log_level? string
---@param env? string
---@return fun(ev: table)|nil emit
function M.emitter(on_event, log_level, env)
  local hook_at = on_event and M.levels[log_level or "info"]
  local stderr_at = M.levels[env or ""] or (not on_event and log_level and M.levels[log_level]) or nil
  if not hook_at and not stderr_at then return nil end
  local least = math.min(hook_at or 99, stderr_at or 99)
  return function(ev)
    local rank = M.levels[ev.level] or 1
    if rank < least then return end
    ev.time = ev.time or os.time()
    if stderr_at and rank >= stderr_at then pcall(stderr_line, ev) end
    if hook_at and rank >= hook_at then
      -- The hook's own error stays with it: the job goes on.
      pcall(on_event, ev)
    end
  end
end

--- Sends an event of kind and level, with fields, to the client's emitter (when it has one).
function M.emit(client, kind, level, fields)
  local emit = client.emit
  if not emit then return end
  fields = fields or {}
  fields.kind, fields.level = kind, level
  emit(fields)
end

--- A URL as events show it: no query (a signed audio URL's signature stays out of logs), no
-- fragment, no user name; the API's status query keeps its generation id.
function M.url(url)
  if type(url) ~= "string" then return nil end
  local base, query = url:match("^([^?#]*)%??([^#]*)")
  base = base:gsub("^(%a[%w+.-]*://)[^/@]*@", "%1")
  local id = query and query:match("^generation_id=([^&]*)$")
  if id then return base .. "?generation_id=" .. id end
  return base
end

local function percent_encode(s)
  return (s:gsub("[^%w%-._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

--- The URL of an API request, as events show it: the submit's, or the status query of job id.
function M.api_url(base_url, id)
  local url = base_url:gsub("/+$", "") .. "/v2/generate/audio"
  if id then url = url .. "?generation_id=" .. percent_encode(id) end
  return url
end

--- The host of a URL, or nil.
function M.host(url)
  local authority = type(url) == "string" and url:match("^%a[%w+.-]*://([^/?#]*)")
  if not authority then return nil end
  authority = authority:gsub("^.*@", "")
  return authority:match("^%[[^%]]*%]") or authority:gsub(":%d*$", "")
end

--- The milestone of a download at bytes of total (nil when unknown): every 25% of a known
-- size, every 10 MiB of an unknown one. Returns the step it has reached.
function M.milestone(bytes, total)
  if total and total > 0 then return math.floor(bytes * 4 / total), true end
  return math.floor(bytes / (10 * MIB)), false
end

return M
