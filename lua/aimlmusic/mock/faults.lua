-- aimlmusic.mock.faults: the failures a spec scripts through the control channel. A fault
-- matches requests by host ("api" or "cdn"), method and path prefix, for a number of times
-- (negative: forever), and changes the answer: another status, headers or body, a delay, or a
-- way of breaking the connection (aimlmusic.mock.http's modes). A job_error fault makes the
-- next jobs end in error instead. With echo_key, the answer's body, JSON strings and header
-- values echo the key as a hostile server would: {key}, {key_upper}, {key_percent},
-- {key_base64} (of "Bearer KEY"), {key_piece} (its 8 middle bytes) are replaced.
-- A fifo fault is local: a FIFO made at a path on this machine
-- (an output, a journal), where a client that opens without care would wait forever.

local http = require("aimlmusic.mock.http")
local api = require("aimlmusic.mock.api")
local util = require("aimlmusic.mock.util")

local json, isnull, is_array = util.json, util.isnull, util.is_array

local M = {}

local GARBAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>\n{\"id\": oops"

local Faults = {}
Faults.__index = Faults

--- No faults queued: list (the request faults, in order) and job_errors (for the next jobs).
function M.new()
  local self = setmetatable({}, Faults)
  self:reset()
  return self
end

--- Forget every fault.
function Faults:reset()
  self.list, self.job_errors = {}, {}
end

local ACTIONS = { close = true, garbage = true, truncate = true, slow = true, trickle = true, endless = true }

--- Queue a fault (see aimlmusic.mock.cli.USAGE). Returns true | nil, err.
function Faults:add(f)
  if type(f) ~= "table" or is_array(f) then return nil, "fault must be a JSON object" end
  local times = isnull(f.times) and 1 or f.times
  if type(times) ~= "number" or times ~= math.floor(times) then
    return nil, "fault times must be an integer (negative: forever)"
  end
  if not isnull(f.fifo) then
    if type(f.fifo) ~= "string" or f.fifo == "" or f.fifo:find("[%z\n]") then
      return nil, "fault fifo must be a file path"
    end
    local ok = os.execute("mkfifo '" .. f.fifo:gsub("'", "'\\''") .. "' 2>/dev/null")
    if ok ~= true and ok ~= 0 then return nil, "fault fifo: mkfifo " .. f.fifo .. " failed" end
    return true
  end
  if not isnull(f.job_error) then
    local je = f.job_error
    if type(je) ~= "table" or is_array(je) then return nil, "fault job_error must be an object" end
    local n = times > 0 and times or 1
    for _ = 1, n do
      self.job_errors[#self.job_errors + 1] = {
        name = isnull(je.name) and "GenerationError" or tostring(je.name),
        message = isnull(je.message) and "The generation failed" or tostring(je.message),
      }
    end
    return true
  end
  local fault = { times = times }
  fault.host = isnull(f.host) and "api" or f.host
  if fault.host ~= "api" and fault.host ~= "cdn" then return nil, "fault host must be \"api\" or \"cdn\"" end
  fault.method = isnull(f.method) and "*" or f.method
  if type(fault.method) ~= "string" then return nil, "fault method must be a string" end
  fault.method = fault.method:upper()
  if not isnull(f.path) then
    if type(f.path) ~= "string" then return nil, "fault path must be a string" end
    fault.path = f.path
  end
  if not isnull(f.status) then
    if type(f.status) ~= "number" or f.status ~= math.floor(f.status) or f.status < 100 or f.status > 599 then
      return nil, "fault status must be an HTTP status code"
    end
    fault.status = f.status
  end
  if not isnull(f.action) then
    if not ACTIONS[f.action] then
      return nil, "fault action must be one of: close, garbage, truncate, slow, trickle, endless"
    end
    fault.action = f.action
  end
  if not isnull(f.chunk_bytes) then
    if type(f.chunk_bytes) ~= "number" or f.chunk_bytes < 1 or f.chunk_bytes ~= math.floor(f.chunk_bytes) then
      return nil, "fault chunk_bytes must be a whole number >= 1"
    end
    fault.chunk_bytes = f.chunk_bytes
  end
  if not isnull(f.echo_key) then
    if type(f.echo_key) ~= "boolean" then return nil, "fault echo_key must be a boolean" end
    fault.echo_key = f.echo_key
  end
  if not isnull(f.delay_ms) then
    if type(f.delay_ms) ~= "number" or f.delay_ms < 0 then return nil, "fault delay_ms must be >= 0" end
    fault.delay_ms = f.delay_ms
  end
  if not isnull(f.headers) then
    if type(f.headers) ~= "table" or is_array(f.headers) then
      return nil, "fault headers must be an object"
    end
    fault.headers = {}
    for k, v in pairs(f.headers) do
      if type(v) ~= "string" and type(v) ~= "number" then
        return nil, "fault header values must be strings"
      end
      if type(k) ~= "string" or k:find("[\r\n:]") or tostring(v):find("[\r\n]") then
        return nil, "fault header " .. tostring(k) .. " is malformed"
      end
      fault.headers[k] = v
    end
  end
  if not isnull(f.body) then
    if type(f.body) ~= "string" then return nil, "fault body must be a string (use json for objects)" end
    fault.body = f.body
  elseif f.json ~= nil then
    fault.json = f.json
  end
  if fault.chunk_bytes and fault.action ~= "trickle" then return nil, "fault chunk_bytes goes with action trickle" end
  if not (fault.status or fault.action or fault.delay_ms or fault.headers or fault.body
    or fault.json ~= nil) then
    return nil, "fault does nothing: give status, action, delay_ms, headers, body, json or job_error"
  end
  self.list[#self.list + 1] = fault
  return true
end

--- The first fault for a request to host kind, counted as used; nil when none matches.
function Faults:take(kind, req)
  for i, f in ipairs(self.list) do
    local method_ok = f.method == "*" or f.method == req.method
      or (f.method == "GET" and req.method == "HEAD")
    local path_ok = not f.path or req.path:sub(1, #f.path) == f.path
    if f.host == kind and method_ok and path_ok then
      if f.times > 0 then
        f.times = f.times - 1
        if f.times == 0 then table.remove(self.list, i) end
      end
      return f
    end
  end
  return nil
end

--- The error scripted for the next job ({name, message}), taken; nil when none is.
function Faults:next_job_error()
  return table.remove(self.job_errors, 1)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

--- Standard base64 with padding (the mock's own: the specs check the library's against it).
local function base64(s)
  return ((s:gsub("..?.?", function(g)
    local a, b, c = g:byte(1, 3)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local out = {}
    for i = 1, 4 do
      local d = math.floor(n / 2 ^ (6 * (4 - i))) % 64
      out[i] = B64:sub(d + 1, d + 1)
    end
    if not b then out[3], out[4] = "=", "=" elseif not c then out[4] = "=" end
    return table.concat(out)
  end)))
end

M.base64 = base64

--- The forms of key a hostile server echoes, by placeholder name.
function M.key_variants(key)
  local mid = math.max(1, math.floor((#key - 8) / 2) + 1)
  return {
    key = key,
    key_upper = key:upper(),
    key_percent = (key:gsub(".", function(c) return ("%%%02X"):format(c:byte()) end)),
    key_base64 = base64("Bearer " .. key),
    key_piece = key:sub(mid, mid + 7),
  }
end

local function echo(v, forms)
  if type(v) == "string" then return (v:gsub("{(key[%w_]*)}", forms)) end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[echo(k, forms)] = echo(x, forms) end
  return out
end

--- The response a fault gives to req. pass(): the answer without the fault; now: the wall
-- clock, for an error body; key: the key clients send, for echo_key.
function M.respond(f, req, pass, now, key)
  if f.action == "close" then return { mode = "close", delay_ms = f.delay_ms } end
  if f.echo_key then
    local forms = M.key_variants(key or "")
    f = setmetatable({ body = echo(f.body, forms), json = echo(f.json, forms), headers = echo(f.headers, forms) },
      { __index = f })
  end
  local resp
  if f.action == "garbage" then
    resp = http.response(f.status or 200, f.body or GARBAGE, "application/json; charset=utf-8")
  elseif f.status or f.body or f.json ~= nil then
    local status = f.status or 200
    if f.body then
      resp = http.response(status, f.body, "text/plain; charset=utf-8")
    elseif f.json ~= nil then
      resp = http.response(status, json.encode(f.json), "application/json; charset=utf-8")
    else
      resp = api.error(status, http.REASONS[status] or "Error", req.path, now)
    end
  else
    resp = pass()
  end
  for k, v in pairs(f.headers or {}) do http.set_header(resp, k, v) end
  if f.action == "slow" then
    resp.mode, resp.slow_ms = "slow", f.delay_ms or 1000
  else
    resp.mode, resp.delay_ms, resp.trickle_bytes = f.action, f.delay_ms, f.chunk_bytes
  end
  return resp
end

return M
