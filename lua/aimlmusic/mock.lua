--- aimlmusic.mock: an offline stand-in for the AI/ML API music service.
--
-- Real HTTP/1.1 over loopback, on two hosts: the API (127.0.0.1) and a
-- CDN-like host for the audio (127.0.0.2). Stateful jobs go queued ->
-- generating -> completed after a configurable time; requests are validated
-- against the library's model table (`aimlmusic.models`) and rejected with the
-- provider's error bodies; every model of the table is served; a
-- control channel under `/_mock/` scripts faults and reads back what was
-- received. Pure Lua + luv; runs on Lua 5.1-5.4 and LuaJIT.
--
--    local mock = require("aimlmusic.mock")
--    local srv = assert(mock.start{ duration = 0.5 })  -- on luv's loop
--    print(srv.api_url, srv.cdn_url)                   -- then run the loop
--    srv:close()
--
-- or from a shell: `bin/aimlmusic-mock --port 8080` (see `M.USAGE`).
--
-- The parts, each knowing only those below it:
--
--  * `mock/http.lua`: an HTTP/1.1 server on luv, with nothing of music in it
--  * `mock/jobs.lua`: the job state machine (`mock/validate.lua`: the model table applied to a
--    body; `mock/audio.lua` and `mock/mp3.lua`: what a job serves)
--  * `mock/api.lua`: the API and CDN hosts as handlers: jobs made HTTP
--  * `mock/faults.lua`: scripted failures; `mock/control.lua`: the `/_mock/` channel
--  * `mock/cli.lua`: the command line
--
-- This file wires them: one server, its configuration, its request log.
-- @module aimlmusic.mock

local http = require("aimlmusic.mock.http")
local jobs = require("aimlmusic.mock.jobs")
local api = require("aimlmusic.mock.api")
local faults = require("aimlmusic.mock.faults")
local control = require("aimlmusic.mock.control")
local validate = require("aimlmusic.mock.validate")
local audio = require("aimlmusic.mock.audio")
local cli = require("aimlmusic.mock.cli")
local util = require("aimlmusic.mock.util")

local M = {}

M.VERSION = "0.1.0"

-- What each model accepts: the library's own model table, read here as data (one copy of
-- the rules), on the service's side: by the names sent on the wire.
M.models = require("aimlmusic.models")

--- Validate a decoded request body. Returns a list of problems (empty when valid) and what the
-- audio inputs decoded to ({[field] = {mime, size, bytes}}).
function M.validate(body)
  return validate.body(M.models, body)
end

M.utf8_len, M.base64_decode = validate.utf8_len, validate.base64_decode
M.pcm, M.wav, M.mp3 = audio.pcm, audio.wav, audio.mp3
M.USAGE, M.parse_args = cli.USAGE, cli.parse_args

--- The command-line entry. Returns the process exit code.
function M.main(argv)
  return cli.main(argv, M.start)
end

local MAX_LOG = 10000
local MAX_BODY = 72 * 1024 * 1024 -- 50 MB of audio as base64, and the rest of a body

local DEFAULTS = {
  host = "127.0.0.1",
  cdn_host = "127.0.0.2",
  port = 0,
  cdn_port = 0,
  key = "test-key",
  duration = 2,
  audio_seconds = 2,
  url_ttl = 86400,
}

local CONFIG_KEYS = {
  key = "string",
  duration = "number",
  audio_seconds = "number",
  url_ttl = "number",
}

local Server = {}
Server.__index = Server

--- Forget jobs, the request log and queued faults; restore the start configuration.
function Server:reset()
  self.store:reset()
  self.faults:reset()
  self.log = {}
  self.config = util.copy(self.start_config)
end

--- Merge settings (key, duration, audio_seconds, url_ttl). Returns true | nil, err.
function Server:configure(t)
  if type(t) ~= "table" or util.is_array(t) then return nil, "config must be a JSON object" end
  for k, v in pairs(t) do
    local want = CONFIG_KEYS[k]
    if not want then return nil, "unknown config key: " .. tostring(k) end
    if type(v) ~= want then return nil, "config " .. k .. " must be a " .. want end
    if k == "key" and v == "" then return nil, "config key must not be empty" end
    if k == "duration" and v < 0 then return nil, "config duration must be >= 0" end
    if k == "audio_seconds" and (v <= 0 or v > 600) then
      return nil, "config audio_seconds must be > 0 and <= 600"
    end
  end
  for k, v in pairs(t) do self.config[k] = v end
  return true
end

--- Queue a fault (see M.USAGE). Returns true | nil, err.
function Server:add_fault(f)
  return self.faults:add(f)
end

--- End a job now ({id = ...}): it completes (or fails, when a job error was queued) at its
-- next status. Returns true | nil, err.
function Server:finish(t)
  if type(t) ~= "table" or type(t.id) ~= "string" then return nil, "finish takes {\"id\": \"...\"}" end
  return self.store:finish(t.id)
end

--- The request log: every request on both hosts except /_mock/, oldest first.
function Server:requests()
  return self.log
end

--- The jobs, oldest first (see aimlmusic.mock.jobs: summaries).
function Server:jobs()
  return self.store:summaries()
end

function Server:_log_request(kind, conn, req)
  local log = self.log
  log[#log + 1] = {
    host = kind, conn = conn.id, method = req.method, path = req.path, query = req.query,
    headers = req.headers, body = req.body, time = self.now(),
  }
  if #log > MAX_LOG then table.remove(log, 1) end
end

-- One request to host kind ("api" or "cdn"): the control channel, or logged, then a fault's
-- answer or the host's.
function Server:_dispatch(kind, req, conn)
  if kind == "api" and control.owns(req) then return control.handle(self, req) end
  self:_log_request(kind, conn, req)
  local function pass()
    if kind == "cdn" then return api.cdn(self, req) end
    return api.api(self, req)
  end
  local fault = self.faults:take(kind, req)
  if fault then return faults.respond(fault, req, pass, self.now(), self.config.key) end
  return pass()
end

--- Close the listeners and every connection. The loop ends once nothing else runs.
function Server:close()
  if self.closed then return end
  self.closed = true
  self.http:close()
end

--- Start the servers on luv's loop (opts.loop: the luv module to use, e.g. vim.uv).
-- Returns the server, or nil, err when a port cannot be bound.
function M.start(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("aimlmusic.mock.start: opts must be a table", 2) end
  local uv = opts.loop or opts.uv or require("luv")
  local self = setmetatable({ uv = uv, closed = false }, Server)
  local o = {}
  for k, v in pairs(DEFAULTS) do
    if opts[k] ~= nil then o[k] = opts[k] else o[k] = v end
  end
  for _, k in ipairs({ "port", "cdn_port", "duration", "audio_seconds", "url_ttl" }) do
    if type(o[k]) ~= "number" then error("aimlmusic.mock.start: " .. k .. " must be a number", 2) end
  end
  self.on_error = opts.on_error or function(msg)
    io.stderr:write("aimlmusic mock: " .. tostring(msg) .. "\n")
  end
  self.now = function() return util.wall_time(uv) end
  self.host, self.cdn_host = o.host, o.cdn_host
  self.start_config = {
    key = o.key, duration = o.duration, audio_seconds = o.audio_seconds, url_ttl = o.url_ttl,
  }
  self.faults = faults.new()
  self.store = jobs.new({
    models = M.models, now = self.now,
    ms = function() return uv.hrtime() / 1e6 end,
    next_error = function() return self.faults:next_job_error() end,
  })
  self:reset()
  local ok, err = self:configure(util.copy(self.start_config))
  if not ok then error("aimlmusic.mock.start: " .. err, 2) end

  local hs = http.new({
    uv = uv, on_error = self.on_error, server = "aimlmusic-mock", max_body = MAX_BODY,
    reject = function(status, message) return api.error(status, message, "", self.now()) end,
  })
  self.http = hs
  local function on(kind)
    return function(req, conn) return self:_dispatch(kind, req, conn) end
  end
  local api_tcp, api_port = hs:listen(o.host, o.port, on("api"))
  if not api_tcp then return nil, api_port end
  local cdn_tcp, cdn_port = hs:listen(o.cdn_host, o.cdn_port, on("cdn"))
  if not cdn_tcp and opts.cdn_host == nil then
    -- 127.0.0.2 is not configured everywhere (macOS): fall back to the API's address
    self.cdn_fallback = true
    self.cdn_host = o.host
    cdn_tcp, cdn_port = hs:listen(o.host, o.cdn_port, on("cdn"))
  end
  if not cdn_tcp then
    api_tcp:close()
    return nil, cdn_port
  end
  self.api_tcp, self.cdn_tcp = api_tcp, cdn_tcp
  self.api_port, self.cdn_port = api_port, cdn_port
  self.api_url = "http://" .. o.host .. ":" .. util.fmt_int(api_port)
  self.cdn_url = "http://" .. self.cdn_host .. ":" .. util.fmt_int(cdn_port)
  self.store.cdn_url = self.cdn_url
  -- a client hanging up mid-body must not kill the process
  if opts.ignore_sigpipe ~= false then hs:ignore_sigpipe() end
  return self
end

return M
