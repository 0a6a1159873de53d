--- aimlmusic: generate music with the AI/ML API (every model in aimlmusic.models).
-- Submit a job, follow it until it is done, fetch the audio. Every call that waits yields
-- inside a task started with music.spawn and blocks outside one.
--
-- Recoverable failures return `nil, err` (an `Error`); only misuse of the API (a number where
-- a table belongs) raises. The model table is data: `require "aimlmusic.models"`.
--
--    local music = require "aimlmusic"
--    local client = assert(music.new())
--    local st, err = client:generate({ model = "minimax/music-2.0", prompt = p, lyrics = l },
--                                    { output = "track.mp3" })
-- @module aimlmusic

-- In LÖVE, native modules may sit inside the game's archive: aimlmusic.love loads them from there.
if type(rawget(_G, "love")) == "table" then require("aimlmusic.love").install() end
local core = require "aimlmusic.core"
-- The model table is checked once here: a typo in it raises now, naming model and field.
local models = core.check_models(require "aimlmusic.models")
local task = require "aimlmusic.task"
local journal = require "aimlmusic.journal"
local schedule = require "aimlmusic.schedule"

local now, sleep, await, check_can_wait = task.now, task.sleep, task.await, task.check_can_wait
local hold = task.hold
local random, min, max = math.random, math.min, math.max

-- The module table (lua-language-server).
---@class aimlmusic
---@field _VERSION string "aimlmusic X.Y.Z"
---@field models table<string, table> the model table (aimlmusic.models)
---@field spawn fun(fn: fun(...): ..., ...): aimlmusic.Task
---@field step fun(timeout_ms?: number, budget_ms?: number): integer
---@field run fun()
---@field current fun(): aimlmusic.Task|nil
---@field is_error fun(v: any): boolean
---@field pollfd fun(): integer|nil, string? one descriptor, readable when step(0) has work
---@field timeout fun(): number|nil seconds until step must run anyway
local music = {
  _VERSION = "aimlmusic 0.2.0",
  models = models,
  spawn = task.spawn,
  step = task.step,
  run = task.run,
  current = task.current,
  pollfd = task.pollfd,
  timeout = task.timeout,
  is_error = core.is_error,
}

--- The options of `music.new`; every one is optional.
-- @table Options
-- @field api_key the API key (default: the environment variable AIMLAPI_KEY)
-- @field base_url the API (default: AIMLAPI_BASE_URL, then https://api.aimlapi.com)
-- @field timeout seconds one HTTP request may take (60)
-- @field connect_timeout seconds to establish a connection (10)
-- @field poll_interval seconds between status polls in wait (default: a schedule learned from
-- the client's finished jobs, see aimlmusic.schedule)
-- @field expected_seconds {earliest, typical}: the schedule's guess before any job finished ({45, 60})
-- @field wait_timeout seconds wait follows a job before giving up (900)
-- @field max_retries retries of a failed request that is safe to repeat (3)
-- @field journal a file path: every submitted job is recorded there, for `Client:resume`
-- @field tls_verify false, by name, accepts any certificate (true)
-- @field ca_file a CA bundle
-- @field proxy a proxy URL (libcurl's *_proxy variables work too)
-- @field allow_http plain http to hosts other than loopback (false)

--- The status of a job (`st`), as `Client:status`, `Client:wait` and `Client:generate` return it.
-- @table Status
-- @field id the job id
-- @field status queued, generating, completed or error (undocumented ones count as pending)
-- @field url the audio URL, once completed
-- @field duration_ms the track's length
-- @field sample_rate, channels, bitrate, size what the provider says of the audio (each model's
-- `response` mapping in aimlmusic.models says where its answer puts them)
-- @field content_type, file_name the audio file, for the models that describe it
-- @field credits_used what the job cost
-- @field trace_id the provider's trace id
-- @field error `{name, message}` when the job failed
-- @field raw the decoded response
-- @field path, bytes where the track went and its size (`Client:generate` with an output)

--- The one error shape: a table whose `tostring` is one readable line.
-- @table Error
-- @field kind validation, config, auth, credits, not_found, rate_limited, http, server,
-- network, timeout, job_failed, protocol, io or cancelled
-- @field message what happened
-- @field status the HTTP status
-- @field code the provider's error name, or an errno name such as EEXIST
-- @field retryable true only where repeating is safe
-- @field request_id, trace_id the provider's ids
-- @field id the job concerned, when there is one
-- @field fields for validation: a list of `{field, message}`
-- @field retry_after seconds the server asked to wait (429)

-- The same shapes for lua-language-server.
---@class aimlmusic.Options
---@field api_key? string default: AIMLAPI_KEY
---@field base_url? string default: AIMLAPI_BASE_URL, then https://api.aimlapi.com
---@field timeout? number seconds, one HTTP request (60)
---@field connect_timeout? number seconds (10)
---@field poll_interval? number seconds (default: the learned schedule)
---@field expected_seconds? number[] {earliest, typical} seconds, the schedule's first guess ({45, 60})
---@field wait_timeout? number seconds (900)
---@field max_retries? integer (3)
---@field journal? string a file path
---@field tls_verify? boolean (true)
---@field ca_file? string
---@field proxy? string
---@field allow_http? boolean (false)

-- aimlmusic.Params (for lua-language-server).
---@class aimlmusic.Params
---@field model string e.g. "minimax/music-2.0"; see aimlmusic.models
---@field prompt? string
---@field lyrics? string
---@field audio_setting? {format?: "mp3"|"wav"|"pcm", sample_rate?: integer, bitrate?: integer}
---@field [string] any other fields of the model

-- aimlmusic.Job (for lua-language-server).
---@class aimlmusic.Job
---@field id string
---@field status string
---@field model string
---@field journal_error? aimlmusic.Error set when the journal could not record the job

-- aimlmusic.Status (for lua-language-server).
---@class aimlmusic.Status
---@field id string
---@field status "queued"|"generating"|"completed"|"error"|string
---@field url? string
---@field duration_ms? integer
---@field sample_rate? integer
---@field channels? integer
---@field bitrate? integer
---@field size? integer
---@field content_type? string
---@field file_name? string
---@field credits_used? number
---@field trace_id? string
---@field error? {name: string, message: string}
---@field raw table
---@field path? string
---@field bytes? integer

-- aimlmusic.Error (for lua-language-server).
---@class aimlmusic.Error
---@field kind string
---@field message string
---@field status? integer
---@field code? string
---@field retryable boolean
---@field request_id? string
---@field trace_id? string
---@field id? string
---@field url? string
---@field fields? {field: string, message: string}[]
---@field retry_after? number

-- aimlmusic.WaitOptions (for lua-language-server).
---@class aimlmusic.WaitOptions
---@field interval? number seconds between polls (the client's poll_interval, else the schedule)
---@field timeout? number seconds (the client's wait_timeout)
---@field on_status? fun(st: aimlmusic.Status) called when the status changes

-- aimlmusic.DownloadOptions (for lua-language-server).
---@class aimlmusic.DownloadOptions
---@field overwrite? boolean replace an existing file (false)
---@field on_progress? fun(bytes: integer, total: integer|nil)

-- aimlmusic.GenerateOptions (for lua-language-server).
---@class aimlmusic.GenerateOptions: aimlmusic.WaitOptions, aimlmusic.DownloadOptions
---@field output? string where the track goes; without it, generate stops once the job completes

-- aimlmusic.Task (for lua-language-server).
---@class aimlmusic.Task
---@field done fun(self: aimlmusic.Task): boolean true once the function returned, raised or was cancelled
---@field result fun(self: aimlmusic.Task): ... what it returned; nil, message when it raised or was cancelled
---@field cancel fun(self: aimlmusic.Task) stops it now, cancelling its transfer

--- Starts `fn(...)` as a task (a coroutine): inside it, every call that waits yields to the
-- scheduler. It first runs at the next `step` (or on the host loop, once attached).
-- Methods of a task: `task:done()`, `task:result()`, `task:cancel()`.
-- @function spawn
---@param fn function the task's body
---@param ... any its arguments
---@return aimlmusic.Task task

--- Runs what is ready; waits up to `timeout_ms` (0: not at all) in the kernel when nothing
-- is. Resuming tasks stops after `budget_ms` (0.25) and goes on at the next step, so a frame is
-- never held up by a crowd of tasks.
-- @function step
---@param timeout_ms? number milliseconds it may wait (0)
---@param budget_ms? number milliseconds it may spend resuming tasks (0.25)
---@return integer pending the number of tasks still pending

--- Drives every task to its end.
-- @function run

--- The task running now, or nil outside any task.
-- @function current
---@return aimlmusic.Task|nil task

--- True when v is an error of this module.
-- @function is_error
---@param v any
---@return boolean

local defaults = {
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
  -- journal = path      -- record submitted jobs durably, for client:resume() after a crash
  -- tls_verify = true   -- set to false, by name, to accept any certificate
  -- ca_file, proxy      -- a CA bundle; a proxy (libcurl's *_proxy variables work too)
  -- allow_http = false  -- plain http is accepted for loopback hosts only, unless this is true
}

-- Retries back off exponentially with jitter; a server's Retry-After is honoured up to a cap.
local BACKOFF_BASE, BACKOFF_CAP, RETRY_AFTER_CAP = 0.5, 8, 120

local function argcheck(cond, fname, i, expected, v)
  if not cond then
    error(("aimlmusic.%s: bad argument #%d (%s expected, got %s)"):format(fname, i, expected, type(v)), 3)
  end
end

local function new_error(kind, message, fields)
  fields = fields or {}
  fields.kind, fields.message = kind, message
  return core.error(fields)
end

--- Validates parameters against the model table, without any network.
---@param params aimlmusic.Params the request
---@return true|nil ok true when valid
---@return aimlmusic.Error|nil err of kind "validation", listing every problem in err.fields
function music.validate(params)
  argcheck(type(params) == "table", "validate", 1, "table", params)
  return core.validate(params, models)
end

-- The client (lua-language-server).
---@class aimlmusic.Client
---@field base_url string the API
---@field journal string|nil the journal's path
local Client = {}
Client.__index = Client

function Client.__tostring(self)
  -- The key lives in C memory only; nothing here can show it.
  return "aimlmusic.client(" .. self.base_url .. ")"
end

-- Every numeric option of music.new, checked here and nowhere else: {least, most, integer}.
-- The bounds keep each value meaningful where C takes it (milliseconds in a long, say).
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
}

-- opts with defaults filled in, or nil and a config error naming the first bad option.
local function check_options(opts)
  local out = {}
  for k, rule in pairs(NUMERIC) do
    local v = opts[k]
    if v == nil then
      v = defaults[k]
    elseif type(v) ~= "number" or v ~= v or v < rule[1] or v > rule[2] or (rule[3] and v % 1 ~= 0) then
      return nil, new_error("config", ("option %s must be %s from %s to %s, got %s"):format(k,
        rule[3] and "a whole number" or "a number", tostring(rule[1]), tostring(rule[2]), tostring(v)))
    end
    out[k] = v
  end
  if opts.journal ~= nil and type(opts.journal) ~= "string" then
    return nil, new_error("config", "option journal must be a file path")
  end
  return out
end

--- Creates a client. Every option is optional (see `Options`); the key defaults to
-- AIMLAPI_KEY and the base URL to AIMLAPI_BASE_URL or https://api.aimlapi.com.
---@param opts? aimlmusic.Options
---@return aimlmusic.Client|nil client
---@return aimlmusic.Error|nil err of kind "config"
function music.new(opts)
  opts = opts or {}
  argcheck(type(opts) == "table", "new", 1, "table or nil", opts)
  local key = opts.api_key
  if key == nil then key = os.getenv("AIMLAPI_KEY") end
  local base_url = opts.base_url or os.getenv("AIMLAPI_BASE_URL") or defaults.base_url
  local o, err = check_options(opts)
  if not o then return nil, err end
  local expected = opts.expected_seconds
  if expected ~= nil and not (type(expected) == "table" and type(expected[1]) == "number"
      and type(expected[2]) == "number" and expected[1] >= 0 and expected[2] > 0) then
    return nil, new_error("config", "option expected_seconds must be {earliest, typical} in seconds")
  end
  local self = setmetatable({
    base_url = base_url,
    timeout = o.timeout,
    connect_timeout = o.connect_timeout,
    poll_interval = o.poll_interval,
    wait_timeout = o.wait_timeout,
    max_retries = o.max_retries,
    journal = opts.journal,
    outputs = {}, -- job id -> output path, for the journal
    started = {}, -- job id -> {at, model} of the jobs this client submitted, until they end
    schedule = schedule.new(expected),
  }, Client)
  -- The URL rule (http(s) only, no user name, plain http to loopback only unless allow_http)
  -- is libcurl's parser in C, for base_url here and for every download and redirect later.
  local session
  session, err = core.session {
    api_key = key,
    base_url = base_url,
    timeout = o.timeout,
    connect_timeout = o.connect_timeout,
    low_speed_limit = o.low_speed_limit,
    low_speed_time = o.low_speed_time,
    max_bytes = o.max_bytes,
    allow_http = opts.allow_http and true or false,
    tls_verify = opts.tls_verify ~= false,
    ca_file = opts.ca_file,
    proxy = opts.proxy,
  }
  if not session then return nil, err end
  self.session = session
  return self
end

-- Seconds to wait before retry number `attempt` (1-based), never past the deadline.
local function backoff(attempt, err, deadline)
  local delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ^ (attempt - 1))
  delay = delay / 2 + random() * delay / 2
  if err.retry_after then delay = max(delay, min(err.retry_after, RETRY_AFTER_CAP)) end
  if deadline then delay = min(delay, max(0, deadline - now())) end
  return delay
end

-- Runs start(previous) --> transfer | nil, err, waits for it and returns what the transfer
-- finishes with, retrying errors marked retryable up to max_retries times. A download's failed
-- transfer is handed to the next attempt, which resumes from its partial file.
local function perform(self, start, on_progress, deadline)
  check_can_wait(3)
  local attempt, prev, t = 0, nil, nil
  local progress = on_progress and function(done, total)
    local ok, e = pcall(on_progress, done, total)
    if not ok then
      -- A raising callback ends its transfer and its file now, not at the next GC.
      t:cancel()
      t:discard()
      if prev then prev:discard() end
      hold(nil)
      error(e, 0)
    end
  end
  while true do
    local err
    t, err = start(prev)
    if t then
      await(t, progress)
      -- A download is moved into place by a worker thread: the loop never waits for the disk.
      if t:commit() then await(t) end
      local result
      result, err = t:finish()
      if result then
        hold(nil)
        return result
      end
      if prev then prev:discard() end
      prev = t
      hold(prev) -- its partial file goes if the task is cancelled while it sleeps below
    end
    attempt = attempt + 1
    if not err.retryable or attempt > self.max_retries or (deadline and now() >= deadline) then
      if prev then prev:discard() end -- a failed download leaves no file behind
      hold(nil)
      return nil, err
    end
    sleep(backoff(attempt, err, deadline))
  end
end

-- Whether the audio of a job could be put at output, asked before the job is paid for: a path
-- string, no directory and no file there (unless overwrite), a writable directory.
local function check_output(output, overwrite)
  if output == nil then return true end
  if type(output) ~= "string" then
    return nil, new_error("validation", "output must be a file path, got " .. type(output),
                          { fields = { { field = "output", message = "must be a file path string" } } })
  end
  return core.output_check(output, overwrite)
end

--- A client: one key and base URL, and the calls that use them (`music.new` makes one).
-- @type Client

--- Submits a generation job. Never sends the same job twice: a submit is repeated only when
-- the request provably did not reach the server, or it answered 429. opts.output (and
-- opts.overwrite) are checked before anything is sent: an existing file (without overwrite), a
-- missing or unwritable directory, a NUL byte give kind io, a non-string kind validation. With
-- a journal, the job is on disk before this returns, with its output, for client:resume().
---@param params aimlmusic.Params the request
---@param opts? {output?: string, overwrite?: boolean} output: where `Client:resume` puts the track
---@return aimlmusic.Job|nil job {id, status, model}
---@return aimlmusic.Error|nil err
function Client:submit(params, opts)
  argcheck(type(params) == "table", "submit", 1, "table", params)
  opts = opts or {}
  argcheck(type(opts) == "table", "submit", 2, "table or nil", opts)
  local body, err = core.encode(params, models)
  if not body then return nil, err end
  local ok
  ok, err = check_output(opts.output, opts.overwrite)
  if not ok then return nil, err end
  local session = self.session
  local job
  job, err = perform(self, function() return session:submit(body) end)
  if not job then return nil, err end
  job.model = params.model
  self.started[job.id] = { at = now(), model = params.model }
  if self.journal then
    local jerr
    ok, jerr = journal.submitted(self.journal, job, opts.output, opts.overwrite and true)
    -- The job exists and is paid for: hand it back, saying the journal could not keep it.
    if not ok then job.journal_error = jerr end
    self.outputs[job.id] = opts.output or false
  end
  return job
end

-- Marks a job finished in the journal.
local function journal_done(self, id)
  self.outputs[id] = nil
  if self.journal then journal.done(self.journal, id) end
end

-- Marks a job delivered: its audio is in place (info {path, bytes}).
local function journal_delivered(self, id, info)
  self.outputs[id] = nil
  if self.journal then journal.delivered(self.journal, id, info) end
end

-- The response mapping for a job id ("uuid:minimax/music-2.0" names its model); for an id that
-- names no known model, every model's mapping (a field absent from the answer sets nothing).
local function response_map(id)
  local entry = models[id:match(":([^:]+)$") or ""]
  if entry then return entry.response end
  local all = {}
  for _, m in pairs(models) do
    for _, r in ipairs(m.response or {}) do all[#all + 1] = r end
  end
  return all
end

--- One status request for a job id.
---@param id string the job id
---@param limit? number seconds: shortens the request's timeout
---@return aimlmusic.Status|nil st
---@return aimlmusic.Error|nil err
function Client:status(id, limit)
  argcheck(type(id) == "string", "status", 1, "string", id)
  check_can_wait(2)
  local t, err = self.session:status(id, limit)
  if not t then return nil, err end
  await(t)
  local st
  st, err = t:finish(response_map(id))
  if not st then err.id = id end
  return st, err
end

local function job_failed(st)
  local e = st.error or {}
  return new_error("job_failed", e.message or "the job ended with status error", {
    code = e.name, id = st.id, trace_id = st.trace_id, st = st,
  })
end

--- Follows a job until it completes, fails or the deadline passes.
-- opts: interval, timeout (seconds), on_status(st) called when the status changes.
---@param job aimlmusic.Job|string the job or its id
---@param opts? aimlmusic.WaitOptions
---@return aimlmusic.Status|nil st of the completed job
---@return aimlmusic.Error|nil err kind "job_failed", or "timeout" with err.id to wait again
function Client:wait(job, opts)
  local id = type(job) == "table" and job.id or job
  argcheck(type(id) == "string", "wait", 1, "job table or id string", job)
  opts = opts or {}
  argcheck(type(opts) == "table", "wait", 2, "table or nil", opts)
  check_can_wait(2)
  local interval = opts.interval or self.poll_interval
  local deadline = now() + (opts.timeout or self.wait_timeout)
  local on_status = opts.on_status
  local last, failures = nil, 0
  local started = self.started[id]
  local pending_at -- seconds after the submit when a poll last saw the job pending
  if not interval and started then
    -- No poll before the job can be done (see aimlmusic/schedule.lua).
    local wait_for = self.schedule:delay(started.model, now() - started.at)
    sleep(min(wait_for, max(0, deadline - now())))
  end
  while true do
    -- A poll never outlives the wait's deadline, however slow the server.
    local st, err = self:status(id, max(0.001, deadline - now()))
    if st then
      failures = 0
      if on_status and st.status ~= last then on_status(st) end
      last = st.status
      if st.status == "completed" then
        if started then
          self.schedule:learn(started.model, pending_at, now() - started.at)
          self.started[id] = nil
        end
        -- A job with an output still needs its download: generate/resume finish it.
        if self.journal and not self.outputs[id] then journal_done(self, id) end
        return st
      end
      if st.status == "error" then
        self.started[id] = nil
        if self.journal then journal_done(self, id) end
        return nil, job_failed(st)
      end
      -- queued, generating, and statuses not yet documented (such as "waiting") are pending.
      if started then pending_at = now() - started.at end
    else
      failures = failures + 1
      if not err.retryable or failures > self.max_retries then
        if err.kind == "not_found" then
          self.started[id] = nil
          if self.journal then journal_done(self, id) end
        end
        return nil, err
      end
    end
    local left = deadline - now()
    if left <= 0 then
      return nil, new_error("timeout", ("job %s still %s after waiting %gs; wait again to go on"):format(
        id, last or "unknown", opts.timeout or self.wait_timeout), { id = id, retryable = true })
    end
    local pause
    if not st then
      pause = backoff(failures, err)
    else
      -- An id ends with ":model" (e84c6bd4-…:minimax/music-2.0).
      pause = interval or self.schedule:delay(started and started.model or id:match(":([^:]+)$"),
        started and now() - started.at or nil)
    end
    sleep(min(pause, left))
  end
end

--- Downloads the audio of a completed job (or a URL) to path. The bytes stream to a temporary
-- file beside path, renamed when complete; an existing file is kept unless opts.overwrite.
-- opts: overwrite, on_progress(bytes, total).
---@param src aimlmusic.Status|string a completed job's status, or the audio URL
---@param path string where the track goes
---@param opts? aimlmusic.DownloadOptions
---@return {path: string, bytes: integer}|nil info
---@return aimlmusic.Error|nil err
function Client:download(src, path, opts)
  local url = type(src) == "table" and src.url or src
  argcheck(type(url) == "string", "download", 1, "status table with url, or URL string", src)
  argcheck(type(path) == "string", "download", 2, "string", path)
  opts = opts or {}
  local session, overwrite = self.session, opts.overwrite and true or false
  -- The size the job reported: any other length is refused (0 or absent: unknown).
  local size = type(src) == "table" and type(src.size) == "number" and src.size > 0 and src.size or nil
  local function start(prev)
    return session:download(url, path, overwrite, prev, size)
  end
  local info, err = perform(self, start, opts.on_progress)
  if not info and err.kind == "http" and err.status == 403 and type(src) == "table" and src.id then
    -- Signed audio URLs expire: one status call gets a fresh one.
    local st = self:status(src.id)
    if st and st.url and st.url ~= url then
      url = st.url
      src.url = st.url
      info, err = perform(self, start, opts.on_progress)
    end
  end
  return info, err
end

--- Submit, wait and (with opts.output) download, in one call.
-- opts: everything wait() and download() take, and output (a file path).
---@param params aimlmusic.Params the request
---@param opts? aimlmusic.GenerateOptions
---@return aimlmusic.Status|nil st with st.path and st.bytes after a download
---@return aimlmusic.Error|nil err naming the job (err.id) once it exists
function Client:generate(params, opts)
  opts = opts or {}
  argcheck(type(opts) == "table", "generate", 2, "table or nil", opts)
  check_can_wait(2)
  local job, err = self:submit(params, { output = opts.output, overwrite = opts.overwrite })
  if not job then return nil, err end
  local st
  st, err = self:wait(job, opts)
  if not st then return nil, err end
  if opts.output then
    local info
    info, err = self:download(st, opts.output, opts)
    if not info then
      -- The job is paid for and still downloadable: say which one.
      err.id, err.url = st.id, st.url
      return nil, err
    end
    st.path, st.bytes = info.path, info.bytes
    journal_delivered(self, job.id, info)
  end
  return st
end

--- The journal's jobs that are not finished, oldest first.
---@return {id: string, model?: string, output?: string, time?: number}[] jobs
function Client:pending()
  if not self.journal then return {} end
  return journal.pending(self.journal)
end

-- The size of the file at path, or nil when it cannot be opened.
local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local size = f:seek("end")
  f:close()
  return size
end

--- Waits for and downloads every pending job of the journal (after a crash, say), without
-- submitting again. Jobs that completed, failed for good or are unknown to the server are
-- marked finished. A file already at a job's output counts as delivered only when its size is
-- the job's; otherwise the job stays pending (err says why) until the file is moved or
-- opts.overwrite is given.
---@param opts? aimlmusic.GenerateOptions as for wait() and download()
---@return {id: string, st?: aimlmusic.Status, path?: string, err?: aimlmusic.Error}[] results one per job
function Client:resume(opts)
  opts = opts or {}
  argcheck(type(opts) == "table", "resume", 1, "table or nil", opts)
  check_can_wait(2)
  local results = {}
  for _, job in ipairs(self:pending()) do
    self.outputs[job.id] = job.output or false
    local r = { id = job.id }
    local st, err = self:wait(job.id, opts)
    r.st = st
    if st and job.output then
      local overwrite = opts.overwrite or job.overwrite
      local size, info = file_size(job.output), nil
      if not overwrite and size and st.size and st.size > 0 and size == st.size then
        info = { path = job.output, bytes = size } -- delivered before the crash, after the link
      else
        local ok
        ok, err = core.output_check(job.output, overwrite)
        if ok then
          core.remove_partials(job.output) -- what a download cut by the crash left beside it
          info, err = self:download(st, job.output, setmetatable({ overwrite = overwrite }, { __index = opts }))
        elseif err.code == "EEXIST" then
          err.message = ("%s exists and nothing shows it is the audio of job %s (%s bytes, the job's are %s): "
            .. "the job stays pending; move the file, or resume with overwrite = true"):format(
            job.output, job.id, tostring(size), tostring(st.size or "unknown"))
        end
      end
      if info then
        r.path = info.path
        journal_delivered(self, job.id, info)
      elseif err then
        err.id = job.id
      end
    end
    r.err = err
    results[#results + 1] = r
  end
  return results
end

music.Client = Client
return music
