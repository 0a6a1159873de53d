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
-- There a relative output lands in the game's save directory, named for LÖVE as st.file.
local love_output
if type(rawget(_G, "love")) == "table" and require("aimlmusic.love").install() then
  love_output = require("aimlmusic.love").output
end
if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

-- In Neovim with the core not built yet, lazy.nvim's `opts` still reach the plugin: this
-- module is then setup() alone, which stores them, and each command says how to build the core.
local core_ok, core = pcall(require, "aimlmusic.core")
if not core_ok then
  local vim = rawget(_G, "vim")
  if type(vim) == "table" and tostring(core):find("module 'aimlmusic.core' not found", 1, true) then
    return setmetatable({ setup = function(opts) return require("aimlmusic.nvim").setup(opts) end, without_core = true },
      { __index = function() error(require("aimlmusic.nvim").core_missing(), 2) end })
  end
  error(core, 0)
end
-- The model table is checked once here: a typo in it raises now, naming model and field.
local models = require("aimlmusic.schema").check_models(require "aimlmusic.models")
local task = require "aimlmusic.task"
local journal = require "aimlmusic.journal"
local schedule = require "aimlmusic.schedule"
local options = require "aimlmusic.options"   -- music.new's defaults and checks
local perform = require "aimlmusic.perform"   -- one request, retried while safe
local flat_map = require("aimlmusic.response").flat
local wait = require "aimlmusic.wait"         -- the poll loop of Client:wait
local resume = require "aimlmusic.resume"     -- Client:resume after a crash
local errors = require "aimlmusic.errors"
local validate = require "aimlmusic.validate" -- parameters against the model table
local datauri = require "aimlmusic.datauri"   -- audio sent as a URL, a data: URI or a file
validate.prepare(models) -- each model's check made now, not in a host's first frame
local events = require "aimlmusic.events"     -- on_event, AIMLMUSIC_LOG

local now, check_can_wait = task.now, task.check_can_wait
local argcheck, new_error = errors.argcheck, errors.new
local max = math.max
local NO_OPTS = {} -- the opts of a call given none (only read)

-- The module table (lua-language-server).
---@class aimlmusic
---@field _VERSION string "aimlmusic X.Y.Z"
---@field models table<string, table> the model table (aimlmusic.models)
---@field spawn fun(fn: fun(...): ..., ...): aimlmusic.Task
---@field step fun(timeout_ms?: number, budget_ms?: number): integer
---@field run fun()
---@field current fun(): aimlmusic.Task|nil
---@field is_error fun(v: any): boolean
---@field null lightuserdata what a JSON null in `st.raw` is
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
  is_error = errors.is_error,
  null = core.json_null,
  format_event = events.format,
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
-- @field download_timeout seconds one download may take in all, retries included (3600: 512
-- MiB at 150 KB/s); per call too, in download's and generate's opts
-- @field low_speed_limit bytes per second: a download slower than this for `low_speed_time`
-- seconds ends with kind `timeout`, and is retried (1024)
-- @field low_speed_time seconds a download may stay under `low_speed_limit` (30)
-- @field max_bytes a download past this many bytes ends with kind `protocol` (512 MiB)
-- @field journal a file path: every submitted job is recorded there, for `Client:resume`
-- @field tls_verify false, by name, accepts any certificate (true)
-- @field ca_file a CA bundle
-- @field ca_path a CA directory (hashed names, as `openssl rehash` makes)
-- @field proxy a proxy URL (libcurl's *_proxy variables work too)
-- @field allow_http plain http to hosts other than loopback (false)
-- @field user_agent a product token ("myapp/1.2") sent after aimlmusic/VERSION in the User-Agent
-- @field headers extra headers for API requests, `{name = value}`: never sent to the audio's host;
-- Authorization, Content-Type, Host and the other headers the library sets cannot be replaced
-- @field on_event `on_event(ev)`: one table per request, response, retry, redirect, stall,
-- download milestone and journal record (see aimlmusic.events); never the key
-- @field log_level the least level of event given to on_event: debug, info, warn or error
-- ("info"); without on_event, events of that level and up go to stderr. AIMLMUSIC_LOG=debug
-- (or info, warn, error) writes them to stderr without a change to the code.
-- An option not listed here is a config error naming the closest one (aimlmusic.options).

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
-- @field raw the decoded response, decoded when first read (`pairs(st)` lists it only after that)
-- @field path, bytes where the track went and its size (`Client:generate` with an output)
-- @field file in LÖVE, with a relative output: the track inside LÖVE's file system (the save
-- directory), for `love.audio.newSource(st.file, "static")` and `love.sound.newSoundData(st.file)`

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
-- @field owner for an output reserved by another job (code EBUSY): that job's id, when known
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
---@field download_timeout? number seconds one download may take, retries included (3600)
---@field low_speed_limit? integer bytes per second (1024)
---@field low_speed_time? integer seconds under low_speed_limit before a download times out (30)
---@field max_bytes? integer the largest download, in bytes (512 MiB)
---@field journal? string a file path
---@field tls_verify? boolean (true)
---@field ca_file? string
---@field ca_path? string
---@field proxy? string
---@field allow_http? boolean (false)
---@field user_agent? string a product token sent after aimlmusic/VERSION
---@field headers? table<string, string> extra headers for API requests
---@field on_event? fun(ev: aimlmusic.Event) what the client does, one table per event
---@field log_level? "debug"|"info"|"warn"|"error" the least level given to on_event ("info")

-- aimlmusic.Event (for lua-language-server); the fields of each kind: aimlmusic.events.
---@class aimlmusic.Event
---@field kind "request"|"response"|"retry"|"redirect"|"stall"|"progress"|"status"|"journal"|string
---@field level "debug"|"info"|"warn"|"error"
---@field time integer os.time() when it happened
---@field [string] any

-- aimlmusic.Params, one class per model, and aimlmusic.Model, the model names: in
-- lua/aimlmusic/types.lua, generated from the model table by tools/gen-types.lua.

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
---@field file? string in LÖVE, a relative output's path inside the game's file system

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
---@field owner? string
---@field url? string
---@field fields? {field: string, message: string}[]
---@field retry_after? number

-- aimlmusic.WaitOptions (for lua-language-server).
---@class aimlmusic.WaitOptions
---@field interval? number seconds between polls (the client's poll_interval, else the schedule)
---@field timeout? number seconds (the client's wait_timeout)
---@field on_status? fun(st: aimlmusic.Status) called when the status changes
---@field max_retries? integer retries of a failed poll (the client's max_retries)

-- aimlmusic.DownloadOptions (for lua-language-server).
---@class aimlmusic.DownloadOptions
---@field overwrite? boolean replace an existing file (false)
---@field on_progress? fun(bytes: integer, total: integer|nil)
---@field timeout? number seconds the download may go without a byte (the client's timeout)
---@field max_retries? integer (the client's max_retries)
---@field download_timeout? number seconds for the whole download, retries included (the client's)

-- aimlmusic.GenerateOptions (for lua-language-server).
---@class aimlmusic.GenerateOptions: aimlmusic.WaitOptions, aimlmusic.DownloadOptions
---@field output? string where the track goes; without it, generate stops once the job completes
---@field on_submit? fun(job: aimlmusic.Job) called once, as soon as the job exists, before any waiting

-- aimlmusic.Task (for lua-language-server).
---@class aimlmusic.Task
---@field done fun(self: aimlmusic.Task): boolean true once the function returned, raised or was cancelled
---@field result fun(self: aimlmusic.Task): ... what it returned; nil, message when it raised or was cancelled
---@field cancel fun(self: aimlmusic.Task) stops it now, cancelling its transfer (a submit whose POST is out: once
--- its job is recorded, so that resume can finish it; done() says when)

--- Starts `fn(...)` as a task (a coroutine): inside it, every call that waits yields to the
-- scheduler. It first runs at the next `step` (or on the host loop, once attached).
-- Methods of a task: `task:done()`, `task:result()`, `task:cancel()`.
-- @function spawn
---@param fn function the task's body
---@param ... any its arguments
---@return aimlmusic.Task task

--- Runs what is ready; waits up to `timeout_ms` (0: not at all) in the kernel when nothing
-- is. The work of one step keeps to `budget_ms` (0.3): libcurl gets half of it (ready sockets
-- wait, a download past it pauses, queued requests start one by one), then tasks are resumed
-- until it is spent (one at least); the rest goes on at the next step, so a frame is never held
-- up by a crowd of transfers or tasks.
-- @function step
---@param timeout_ms? number milliseconds it may wait (0)
---@param budget_ms? number milliseconds its work may take (0.3)
---@return integer pending the number of tasks still pending (and of cancelled downloads whose partial file
--- a worker is still removing)

--- Drives every task to its end.
-- @function run

--- The task running now, or nil outside any task.
-- @function current
---@return aimlmusic.Task|nil task

--- True when v is an error of this module.
-- @function is_error
---@param v any
---@return boolean

--- What a JSON null in a decoded answer (`st.raw`) is: a light userdata, lua-cjson's null too.
-- @field null

--- One descriptor, readable whenever `step(0)` has work: a host loop watches it and calls
-- `step(0)` when it turns readable (with `timeout` for the timers), instead of polling.
-- @function pollfd
---@return integer|nil fd
---@return string|nil err where there is none (Windows)

--- Seconds until `step` must run even if the descriptor stays quiet (0: now).
-- @function timeout
---@return number|nil seconds nil when no timer is pending

--- One line saying what an event of `on_event` says (what AIMLMUSIC_LOG writes to stderr).
-- @function format_event
---@param ev aimlmusic.Event
---@return string line

--- Validates parameters against the model table, without any network.
---@param params aimlmusic.Params the request
---@return true|nil ok true when valid
---@return aimlmusic.Error|nil err of kind "validation", listing every problem in err.fields
-- @function validate
function music.validate(params)
  argcheck(type(params) == "table", "validate", 1, "table", params)
  return validate.validate(params, models)
end

--- Inside Neovim: configures the plugin behind :AimlMusic (`:help aimlmusic-setup`). Plugin
-- managers call it as lazy.nvim does, `require("aimlmusic").setup(opts)`.
---@param opts? table the plugin's options (aimlmusic.nvim.Config)
-- @function setup
function music.setup(opts)
  return require("aimlmusic.nvim").setup(opts)
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

--- Creates a client. Every option is optional (see `Options`); the key defaults to
-- AIMLAPI_KEY and the base URL to AIMLAPI_BASE_URL or https://api.aimlapi.com.
---@param opts? aimlmusic.Options
---@return aimlmusic.Client|nil client
---@return aimlmusic.Error|nil err of kind "config"
-- @function new
function music.new(opts)
  opts = opts or {}
  argcheck(type(opts) == "table", "new", 1, "table or nil", opts)
  local self, session_opts, expected = options.check(opts, music._VERSION) -- self: base_url, timeouts, ...
  if not self then return nil, session_opts end
  -- In LÖVE a relative journal goes in the save directory, as a relative output does.
  if love_output and self.journal then self.journal = love_output(self.journal) end
  self.emit = events.emitter(opts.on_event, opts.log_level, os.getenv(events.ENV))
  local session, err = core.session(session_opts)
  if not session then return nil, err end
  self.session = session
  self.outputs = {} -- job id -> output path, for the journal
  self.reservations = {} -- job id -> the reservation of its output, until the job is finished
  self.started = {} -- job id -> {at, model} of the jobs this client submitted, until they end
  self.schedule = schedule.new(expected, self.base_url)
  return setmetatable(self, Client)
end

-- Whether the audio of a job could be put at output, asked before the job is paid for: a path
-- string, no directory and no file there (unless overwrite), a writable directory.
-- Inside a task (in_task), the local files a request sends as data: URIs, read on a worker
-- thread (path -> data URI, or {message}) for validate.encode to take; nil outside one.
local function read_files(params, in_task)
  local entry = in_task and models[params.model]
  if not entry then return nil end
  local files
  for _, f in ipairs(entry.fields or {}) do
    local v = params[f.name]
    if f.transform == "data_uri" and type(v) == "string" and not v:lower():match("^https?://")
        and not v:lower():match("^data:") then
      local uri, msg = datauri.read_result(v, f.max_bytes, task.work("datauri_read", v, f.max_bytes))
      files = files or {}
      files[v] = uri or { msg }
    end
  end
  return files
end

local function check_output(output, overwrite)
  if output == nil then return true end
  if type(output) ~= "string" then
    return nil, new_error("validation", "output must be a file path, got " .. type(output),
                          { fields = { { field = "output", message = "must be a file path string" } } })
  end
  return core.output_check(output, overwrite)
end

-- The first request of a submit and of a status (perform.run's req.start): req carries what
-- they send, so that no closure is made per call.
local function start_submit(_, req) return req.session:submit(req.body, req.timeout) end
local function start_status(_, req) return req.session:status(req.id, req.timeout) end

--- A client: one key and base URL, and the calls that use them (`music.new` makes one).
-- @type Client

--- Submits a generation job. Never sends the same job twice: a submit is repeated only when
-- the request provably did not reach the server, or it answered 429. opts.output (and
-- opts.overwrite) are checked before anything is sent: an existing file (without overwrite), a
-- missing or unwritable directory, a NUL byte give kind io, a non-string kind validation. The
-- output is then reserved for this job until it is finished: an output another unfinished job
-- holds gives kind io, code EBUSY (err.owner: that job), unless overwrite. With a journal, the
-- job is on disk before this returns, with its output, for client:resume().
---@param params aimlmusic.Params the request
---@param opts? {output?: string, overwrite?: boolean, timeout?: number, max_retries?: integer}
--   output: where `Client:resume` puts the track; timeout, max_retries: this call's own
---@return aimlmusic.Job|nil job {id, status, model}
---@return aimlmusic.Error|nil err
function Client:submit(params, opts)
  -- The checks that pass are written inline: a call costs more than the test.
  if type(params) ~= "table" then argcheck(false, "submit", 1, "table", params) end
  local ok, err
  if not opts then
    opts = NO_OPTS
  else
    if type(opts) ~= "table" then argcheck(false, "submit", 2, "table or nil", opts) end
    if next(opts) ~= nil then
      ok, err = options.check_call("submit", opts)
      if not ok then return nil, err end
    end
  end
  local body
  local in_task = task.current() -- the same all through this call
  body, err = validate.encode(params, models, read_files(params, in_task))
  if not body then return nil, err end
  if opts.output ~= nil then
    ok, err = check_output(opts.output, opts.overwrite)
    if not ok then return nil, err end
  end
  -- The output is this job's from before the POST until the job is finished: a second submit
  -- to it, in any process, fails here without paying.
  local reservation
  if opts.output then
    reservation, err = journal.reserve(self, opts.output, nil, opts.overwrite)
    if not reservation then return nil, err end
  end
  local job, t
  -- Without listeners, the request table is made only for a retry or for the error.
  if not self.emit then job, t, err = perform.first(self.session, "submit", body, opts.timeout) end
  if not job then
    -- The URL is for the client's events only: built when something listens.
    job, err = perform.run({ client = self, request = "submit", method = "POST",
      url = self.emit and events.api_url(self.base_url), max_retries = opts.max_retries or self.max_retries,
      start = start_submit, session = self.session, body = body, timeout = opts.timeout }, t, err)
  end
  -- From the send (perform shields it) to the journal's record, a cancel of the task waits: a
  -- POST that may have reached the server made a paid job, kept for resume.
  if not job then
    if reservation then task.work("reservation_release", reservation) end
    if in_task then task.unshield() end
    return nil, err
  end
  job.model = params.model
  self.started[job.id] = { at = now(), model = params.model }
  if reservation then
    task.work("reservation_own", reservation, job.id) -- names its job, for resume to take it over
    self.reservations[job.id] = reservation
  end
  if self.journal then
    local jerr
    -- An absolute path: resume finds the output from any directory.
    local output = opts.output and (core.abspath(opts.output) or opts.output) or nil
    ok, jerr = journal.submitted(self.journal, job, output, opts.overwrite and true)
    if ok then events.emit(self, "journal", "debug", { op = "submit", id = job.id, journal = self.journal }) end
    -- The job exists and is paid for: hand it back, saying the journal could not keep it.
    if not ok then job.journal_error = jerr end
    self.outputs[job.id] = opts.output or false
  end
  if in_task then task.unshield() end
  return job
end

-- The model an id names ("uuid:minimax/music-2.0"), or "": the last id asked for is kept with
-- its answer, since a job's polls ask for the same id again and again.
local last_id, last_model = nil, ""
local function model_of(id)
  if id ~= last_id then
    last_id, last_model = id, id:match(":([^:]+)$") or ""
  end
  return last_model
end

-- The response mapping for a job id, as the core reads it (response.flat); for an id that
-- names no known model, every model's mapping (a field absent from the answer sets nothing).
local function response_map(id)
  local entry = models[model_of(id)]
  if entry then return flat_map(entry.response) end
  local all = {}
  for _, m in pairs(models) do
    for _, r in ipairs(m.response or {}) do all[#all + 1] = r end
  end
  return flat_map(all)
end

--- One status request for a job id (more with opts.max_retries).
---@param id string the job id
---@param opts? {timeout?: number, max_retries?: integer}|number this call's request timeout and
--  retries (0); a number: seconds that may shorten the request's timeout
---@return aimlmusic.Status|nil st
---@return aimlmusic.Error|nil err
function Client:status(id, opts)
  if type(id) ~= "string" then argcheck(false, "status", 1, "string", id) end
  local limit, err
  if not opts then
    opts = NO_OPTS
  elseif type(opts) == "number" then
    limit, opts = opts, NO_OPTS
  else
    if type(opts) ~= "table" then argcheck(false, "status", 2, "table, number or nil", opts) end
    if next(opts) ~= nil then
      local ok
      ok, err = options.check_call("status", opts)
      if not ok then return nil, err end
    end
  end
  local timeout = opts.timeout or self.timeout
  if limit and limit < timeout then timeout = limit end
  local map, st, t = response_map(id), nil, nil
  if not self.emit then st, t, err = perform.first(self.session, "status", id, timeout, map) end
  if not st then
    st, err = perform.run({ client = self, request = "status", method = "GET",
      url = self.emit and events.api_url(self.base_url, id), id = id, max_retries = opts.max_retries or 0,
      map = map, start = start_status, session = self.session, timeout = timeout }, t, err)
  end
  if not st then err.id = id end
  return st, err
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
  local ok, err = options.check_call("wait", opts)
  if not ok then return nil, err end
  check_can_wait(2)
  return wait.follow(self, id, opts)
end

--- Downloads the audio of a completed job (or a URL) to path. The bytes stream to a temporary
-- file beside path, renamed when complete; an existing file is kept unless opts.overwrite.
-- opts: overwrite, on_progress(bytes, total), timeout (seconds it may go without a byte),
-- max_retries, download_timeout (seconds for the whole download, retries included; the
-- client's, 3600 by default).
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
  argcheck(type(opts) == "table", "download", 3, "table or nil", opts)
  local ok, err = options.check_call("download", opts)
  if not ok then return nil, err end
  local file
  if love_output then path, file = love_output(path) end
  local limit, lerr = options.check_number("download_timeout", opts.download_timeout)
  if lerr then return nil, lerr end
  local session, overwrite, timeout = self.session, opts.overwrite and true or false, opts.timeout
  -- The size the job reported: any other length is refused (0 or absent: unknown).
  local size = type(src) == "table" and type(src.size) == "number" and src.size > 0 and src.size or nil
  -- One deadline for the whole download, retries and a refreshed URL included.
  local deadline = now() + (limit or self.download_timeout)
  -- With a journal, the commit records this job's proof of delivery before the link.
  local id = self.journal and type(src) == "table" and type(src.id) == "string" and src.id or nil
  local function start(prev)
    return session:download(url, path, overwrite, prev, size, timeout, max(deadline - now(), 0.001),
                            id and self.journal, id)
  end
  local req = { client = self, request = "download", method = "GET", url = events.url(url),
                id = type(src) == "table" and src.id or nil, max_retries = opts.max_retries or self.max_retries,
                start = start, on_progress = opts.on_progress, deadline = deadline }
  local info
  info, err = perform.run(req)
  if not info and err.kind == "http" and err.status == 403 and type(src) == "table" and src.id
      and now() < deadline then
    -- Signed audio URLs expire: one status call gets a fresh one.
    local st = self:status(src.id, deadline - now())
    if st and st.url and st.url ~= url then
      url = st.url
      src.url = st.url
      req.url = events.url(url)
      info, err = perform.run(req)
    end
  end
  if info then info.file = file end
  local job_id = type(src) == "table" and type(src.id) == "string" and src.id
  -- The job is delivered: a reservation its process left (dead, or this one) goes too.
  if info and job_id and not self.reservations[job_id] then journal.drop_reservation(path, job_id) end
  return info, err
end

--- Submit, wait and (with opts.output) download, in one call.
-- opts: everything wait() and download() take, output (a file path), and on_submit(job),
-- called once the submit answers with the job ({id, status, model}; journaled by then), before
-- any waiting: the id to show or keep at once. An on_submit that raises ends generate with its
-- error, as on_status and on_progress do; the job stays in the journal for resume.
---@param params aimlmusic.Params the request
---@param opts? aimlmusic.GenerateOptions
---@return aimlmusic.Status|nil st with st.path and st.bytes after a download
---@return aimlmusic.Error|nil err naming the job (err.id) once it exists
function Client:generate(params, opts)
  opts = opts or {}
  argcheck(type(opts) == "table", "generate", 2, "table or nil", opts)
  local ok, err = options.check_call("generate", opts)
  if not ok then return nil, err end
  check_can_wait(2)
  local output, file = opts.output, nil
  if love_output then output, file = love_output(output) end
  local job
  job, err = self:submit(params, { output = output, overwrite = opts.overwrite, max_retries = opts.max_retries })
  if not job then return nil, err end
  if opts.on_submit then opts.on_submit(job) end
  local st
  st, err = self:wait(job, options.only("wait", opts))
  if not st then return nil, err end
  if output then
    local info
    local dopts = options.only("download", opts)
    dopts.timeout = nil -- generate's timeout is wait's
    info, err = self:download(st, output, dopts)
    if not info then
      -- The job is paid for and still downloadable: say which one.
      err.id, err.url = st.id, st.url
      return nil, err
    end
    st.path, st.bytes, st.file = info.path, info.bytes, file
    journal.mark_delivered(self, job.id, info)
  end
  return st
end

--- The journal's jobs that are not finished, oldest first.
---@return {id: string, model?: string, output?: string, time?: number}[] jobs
---@return aimlmusic.Error|nil err when the journal cannot be read (not a regular file, say)
function Client:pending()
  if not self.journal then return {} end
  local jobs, _, err = journal.pending(self.journal)
  return jobs, err
end

--- Waits for and downloads every pending job of the journal (after a crash, say), without
-- submitting again. Jobs that completed, failed for good or are unknown to the server are
-- marked finished. A file already at a job's output counts as delivered only when the journal
-- holds this job's proof (the identity and size of the file it linked there); otherwise the job
-- stays pending (err says why) until the file is moved or opts.overwrite is given. An output
-- that is not a regular file, a symbolic link, or a relative path with `..` is refused for its
-- job (err), never opened; the other jobs go on. opts.id: that job alone (a task per job, each
-- cancelled on its own).
---@param opts? aimlmusic.GenerateOptions|{id?: string} as for wait() and download(), and id
---@return {id: string, st?: aimlmusic.Status, path?: string, err?: aimlmusic.Error}[]|nil results one per
-- job; nil and a config error for an unknown option
---@return aimlmusic.Error|nil err when the journal cannot be read (no job is tried then)
function Client:resume(opts)
  opts = opts or {}
  argcheck(type(opts) == "table", "resume", 1, "table or nil", opts)
  local ok, err = options.check_call("resume", opts)
  if not ok then return nil, err end
  check_can_wait(2)
  return resume.all(self, opts)
end

music.Client = Client
return music
