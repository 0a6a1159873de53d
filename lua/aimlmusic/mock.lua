-- aimlmusic.mock: an offline stand-in for the AI/ML API music service.
--
-- Real HTTP/1.1 over loopback, on two hosts: the API (127.0.0.1) and a
-- CDN-like host for the audio (127.0.0.2). Stateful jobs go queued ->
-- generating -> completed after a configurable time; requests are validated
-- against the library's model table (aimlmusic.models) and rejected with the
-- provider's error bodies; every model of the table is served; a
-- control channel under /_mock/ scripts faults and reads back what was
-- received. Pure Lua + luv; runs on Lua 5.1-5.4 and LuaJIT.
--
--   local mock = require("aimlmusic.mock")
--   local srv = assert(mock.start{ duration = 0.5 })  -- on luv's loop
--   print(srv.api_url, srv.cdn_url)                   -- then run the loop
--   srv:close()
--
-- or from a shell: bin/aimlmusic-mock --port 8080 (see M.USAGE).

local json = require("cjson").new()

local unpack = table.unpack or unpack

local M = {}

M.VERSION = "0.1.0"

local API_PATH = "/v2/generate/audio"
local MAX_HEAD = 64 * 1024
local MAX_BODY = 72 * 1024 * 1024 -- 50 MB of audio as base64, and the rest of a body
local MAX_LOG = 10000

-- What each model accepts: the library's own model table, read here as data (one copy of
-- the rules), on the service's side: by the names sent on the wire.
M.models = require("aimlmusic.models")

-- Credits a completed job reports; a model not listed here costs DEFAULT_CREDITS.
local CREDITS = { ["minimax/music-2.0"] = 126, ["minimax/music-1.5"] = 105 }
local DEFAULT_CREDITS = 100

local function model_names()
  local names = {}
  for name in pairs(M.models) do names[#names + 1] = name end
  table.sort(names)
  return names
end

local CONTENT_TYPES = {
  mp3 = "audio/mpeg",
  wav = "audio/wav",
  pcm = "application/octet-stream",
}
local MB = 1000 * 1000

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

local REASONS = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
  [206] = "Partial Content", [301] = "Moved Permanently", [302] = "Found", [304] = "Not Modified",
  [400] = "Bad Request", [401] = "Unauthorized", [402] = "Payment Required", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [408] = "Request Timeout", [409] = "Conflict",
  [410] = "Gone", [411] = "Length Required", [413] = "Payload Too Large",
  [416] = "Range Not Satisfiable", [422] = "Unprocessable Entity", [429] = "Too Many Requests",
  [431] = "Request Header Fields Too Large", [500] = "Internal Server Error",
  [501] = "Not Implemented", [502] = "Bad Gateway", [503] = "Service Unavailable",
  [504] = "Gateway Timeout", [505] = "HTTP Version Not Supported",
}

local GARBAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>\n{\"id\": oops"

---------------------------------------------------------------------------
-- small helpers

local function isnull(v)
  return v == nil or v == json.null
end

local function copy(t)
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  return r
end

local function contains(list, v)
  for i = 1, #list do
    if list[i] == v then return true end
  end
  return false
end

local function join(list)
  local t = {}
  for i = 1, #list do t[i] = tostring(list[i]) end
  return table.concat(t, ", ")
end

local HEX = "0123456789abcdef"
local ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

local function rand_chars(alphabet, n)
  local t = {}
  for i = 1, n do
    local d = math.random(1, #alphabet)
    t[i] = alphabet:sub(d, d)
  end
  return table.concat(t)
end

local function uuid4()
  local h = rand_chars(HEX, 32)
  local variant = rand_chars("89ab", 1)
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-4" .. h:sub(14, 16) .. "-" .. variant .. h:sub(18, 20)
    .. "-" .. h:sub(21, 32)
end

local function fmt_int(n)
  return string.format("%d", math.floor(n))
end

-- Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
-- Returns the number of code points, or nil for invalid UTF-8.
local function utf8_len(s)
  local i, n, len = 1, #s, 0
  while i <= n do
    local c = s:byte(i)
    local need
    if c < 0x80 then
      need = 0
    elseif c >= 0xC2 and c <= 0xDF then
      need = 1
    elseif c >= 0xE0 and c <= 0xEF then
      need = 2
    elseif c >= 0xF0 and c <= 0xF4 then
      need = 3
    else
      return nil
    end
    if i + need > n then return nil end
    for k = 1, need do
      local b = s:byte(i + k)
      if b < 0x80 or b > 0xBF then return nil end
    end
    if need >= 2 then
      local b = s:byte(i + 1)
      if (c == 0xE0 and b < 0xA0) or (c == 0xED and b > 0x9F)
        or (c == 0xF0 and b < 0x90) or (c == 0xF4 and b > 0x8F) then
        return nil
      end
    end
    i = i + need + 1
    len = len + 1
  end
  return len
end
M.utf8_len = utf8_len

local function url_decode(s)
  s = s:gsub("%+", " ")
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function parse_query(q)
  local r = {}
  if not q or q == "" then return r end
  for pair in (q .. "&"):gmatch("([^&]*)&") do
    if pair ~= "" then
      local k, v = pair:match("^([^=]*)=(.*)$")
      if not k then k, v = pair, "" end
      k = url_decode(k)
      if r[k] == nil then r[k] = url_decode(v) end
    end
  end
  return r
end

local function has_token(value, token)
  for tok in (value or ""):lower():gmatch("[^,%s]+") do
    if tok == token then return true end
  end
  return false
end

local function is_array(t)
  return type(t) == "table" and t[1] ~= nil
end

-- cjson cannot tell an empty list from an empty object.
local function encode_list(list)
  if #list == 0 then return "[]" end
  return json.encode(list)
end

local function wall_time(uv)
  if uv and uv.gettimeofday then
    local s, us = uv.gettimeofday()
    if s then return s + (us or 0) / 1e6 end
  end
  return os.time()
end

local function iso8601(t)
  local s = math.floor(t)
  local ms = math.floor((t - s) * 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. string.format(".%03dZ", ms)
end

---------------------------------------------------------------------------
-- audio: a little melody of sine tones, 16-bit mono

local MELODY = { 523.25, 659.25, 783.99, 1046.50, 880.00, 783.99, 659.25, 587.33 }
local NOTE_SECONDS = 0.25
local audio_cache, audio_cache_keys = {}, {}

local function le16(n)
  n = math.floor(n)
  return string.char(n % 256, math.floor(n / 256) % 256)
end

local function le32(n)
  n = math.floor(n)
  return string.char(n % 256, math.floor(n / 256) % 256, math.floor(n / 65536) % 256,
    math.floor(n / 16777216) % 256)
end

local function cached(key, make)
  local v = audio_cache[key]
  if v then return v end
  v = make()
  if #audio_cache_keys >= 8 then
    audio_cache[table.remove(audio_cache_keys, 1)] = nil
  end
  audio_cache[key] = v
  audio_cache_keys[#audio_cache_keys + 1] = key
  return v
end

--- Raw signed 16-bit little-endian mono samples.
function M.pcm(rate, seconds)
  rate = math.floor(rate or 44100)
  seconds = seconds or 2
  local cycle = #MELODY * NOTE_SECONDS
  if seconds > cycle then
    -- Longer audio repeats the melody: each note fades in and out, so the seams are silent.
    return cached("pcm:" .. rate .. ":" .. seconds, function()
      local whole = math.floor(seconds / cycle)
      local rest = seconds - whole * cycle
      local tail = rest * rate >= 1 and M.pcm(rate, rest) or ""
      return M.pcm(rate, cycle):rep(whole) .. tail
    end)
  end
  return cached("pcm:" .. rate .. ":" .. seconds, function()
    local n = math.floor(rate * seconds + 0.5)
    local note_len = math.max(1, math.floor(rate * NOTE_SECONDS))
    local fade = math.max(1, math.floor(rate * 0.01))
    local two_pi = 2 * math.pi
    local out, chunk, ci = {}, {}, 0
    local phase = 0
    for i = 0, n - 1 do
      local note = math.floor(i / note_len)
      local pos = i - note * note_len
      local f = MELODY[note % #MELODY + 1]
      local env = 1
      if pos < fade then
        env = pos / fade
      elseif note_len - pos < fade then
        env = (note_len - pos) / fade
      end
      if n - i < fade then env = math.min(env, (n - i) / fade) end
      phase = phase + two_pi * f / rate
      if phase > two_pi then phase = phase - two_pi end
      local s = (math.sin(phase) * 0.35 + math.sin(2 * phase) * 0.08) * env
      local v = math.floor(s * 32767 + 0.5)
      if v < 0 then v = v + 65536 end
      chunk[ci + 1] = v % 256
      chunk[ci + 2] = math.floor(v / 256)
      ci = ci + 2
      if ci >= 4096 then
        out[#out + 1] = string.char(unpack(chunk, 1, ci))
        ci = 0
      end
    end
    if ci > 0 then out[#out + 1] = string.char(unpack(chunk, 1, ci)) end
    return table.concat(out)
  end)
end

--- A complete RIFF/WAVE file (PCM, 16-bit, mono).
function M.wav(rate, seconds)
  rate = math.floor(rate or 44100)
  seconds = seconds or 2
  return cached("wav:" .. rate .. ":" .. seconds, function()
    local data = M.pcm(rate, seconds)
    return "RIFF" .. le32(36 + #data) .. "WAVE"
      .. "fmt " .. le32(16) .. le16(1) .. le16(1) .. le32(rate) .. le32(rate * 2) .. le16(2) .. le16(16)
      .. "data" .. le32(#data) .. data
  end)
end

--- The MP3 fixture (lua/aimlmusic/mock_mp3.lua, made by tools/make-mp3-fixture.sh).
function M.mp3()
  local data = require("aimlmusic.mock_mp3")
  return data
end

---------------------------------------------------------------------------
-- base64, for the audio that comes as a data: URI

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64_VALUE = {}
for i = 1, 64 do B64_VALUE[B64:byte(i)] = i - 1 end

--- The bytes of base64 text, or nil when it is not base64.
function M.base64_decode(s)
  if #s % 4 ~= 0 then return nil end
  local out, chunk = {}, {}
  for i = 1, #s, 4 do
    local a, b, c, d = s:byte(i, i + 3)
    local va, vb, vc, vd = B64_VALUE[a], B64_VALUE[b], B64_VALUE[c], B64_VALUE[d]
    local last = i + 3 == #s
    if not va or not vb then return nil end
    if last and d == 61 then vd = 0 end
    if last and c == 61 and d == 61 then vc = 0 end
    if not vc or not vd then return nil end
    local n = ((va * 64 + vb) * 64 + vc) * 64 + vd
    local x, y, z = math.floor(n / 65536), math.floor(n / 256) % 256, n % 256
    if last and c == 61 then
      chunk[#chunk + 1] = string.char(x)
    elseif last and d == 61 then
      chunk[#chunk + 1] = string.char(x, y)
    else
      chunk[#chunk + 1] = string.char(x, y, z)
    end
    if #chunk >= 4096 then
      out[#out + 1] = table.concat(chunk)
      chunk = {}
    end
  end
  out[#out + 1] = table.concat(chunk)
  return table.concat(out)
end

---------------------------------------------------------------------------
-- validation: the model table, applied to what arrives, with the provider's messages

local function fmt_bytes(n)
  if n >= MB and n % MB == 0 then return fmt_int(n / MB) .. " MB" end
  return fmt_int(n) .. " bytes"
end

-- The value of a field in a wire object: under any of its wire names.
local function wire_value(obj, spec)
  for _, w in ipairs(spec.wire or { spec.name }) do
    if not isnull(obj[w]) then return obj[w], w end
  end
  return nil, (spec.wire or { spec.name })[1]
end

local function is_url(s)
  local lower = s:lower()
  return (lower:match("^https?://[^/?#%s]") ~= nil) and not s:find("[%z\1-\32\127]")
end

-- A data:audio/...;base64,... value: nil and a problem, or the decoded bytes and the MIME type.
local function data_uri(v, name, max_bytes)
  local mime, payload = v:match("^[Dd][Aa][Tt][Aa]:(audio/[^;,]+)[^,]*;[Bb][Aa][Ss][Ee]64,(.*)$")
  if not mime then return nil, name .. " must be a URL address or a base64 data URI of audio" end
  local bytes = M.base64_decode(payload)
  if not bytes or #bytes == 0 then return nil, name .. " must be valid base64" end
  if max_bytes and #bytes > max_bytes then
    return nil, name .. " must not be larger than " .. fmt_bytes(max_bytes)
  end
  return bytes, mime
end

local check_fields

local function check_field(problems, spec, v, name, inputs)
  local t = spec.type
  if t == "string" then
    if type(v) ~= "string" then
      problems[#problems + 1] = name .. " must be a string"
      return
    end
    local len = utf8_len(v)
    if not len then
      problems[#problems + 1] = name .. " must be a valid UTF-8 string"
      return
    elseif spec.min_length and len < spec.min_length then
      problems[#problems + 1] = name .. " must be longer than or equal to " .. spec.min_length .. " characters"
      return
    elseif spec.max_length and len > spec.max_length then
      problems[#problems + 1] = name .. " must be shorter than or equal to " .. spec.max_length .. " characters"
      return
    end
    if spec.format == "url" and not is_url(v) then
      problems[#problems + 1] = name .. " must be a URL address"
      return
    end
    if spec.transform == "data_uri" and not is_url(v) then
      local bytes, mime = data_uri(v, name, spec.max_bytes)
      if not bytes then
        problems[#problems + 1] = mime
        return
      end
      inputs[name] = { mime = mime, size = #bytes, bytes = bytes }
    end
  elseif t == "integer" or t == "number" then
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge
      or (t == "integer" and v ~= math.floor(v)) then
      problems[#problems + 1] = name .. (t == "integer" and " must be an integer number"
        or " must be a number conforming to the specified constraints")
      return
    end
    if spec.min and v < spec.min then
      problems[#problems + 1] = name .. " must not be less than " .. spec.min
      return
    elseif spec.max and v > spec.max then
      problems[#problems + 1] = name .. " must not be greater than " .. spec.max
      return
    end
  elseif t == "boolean" then
    if type(v) ~= "boolean" then
      problems[#problems + 1] = name .. " must be a boolean value"
      return
    end
  elseif t == "object" then
    if type(v) ~= "table" or is_array(v) then
      problems[#problems + 1] = name .. " must be an object"
      return
    end
    check_fields(problems, spec.fields, v, name .. ".", inputs)
    return
  end
  if spec.enum and not contains(spec.enum, v) then
    problems[#problems + 1] = name .. " must be one of the following values: " .. join(spec.enum)
  end
end

-- True when a boolean field named k of fields is true in obj.
local function flag_true(fields, obj, k)
  for _, spec in ipairs(fields) do
    if spec.name == k then return wire_value(obj, spec) == true end
  end
  return false
end

function check_fields(problems, fields, obj, prefix, inputs)
  for _, spec in ipairs(fields) do
    local v, wname = wire_value(obj, spec)
    local name = prefix .. wname
    if v == nil then
      local needed = spec.required
      if spec.required_unless then
        needed = true
        for _, k in ipairs(spec.required_unless) do
          if flag_true(fields, obj, k) then needed = false end
        end
      end
      if needed then problems[#problems + 1] = name .. " should not be empty" end
    else
      check_field(problems, spec, v, name, inputs)
    end
  end
end

--- Validate a decoded request body. Returns a list of problems (empty when valid) and what the
-- audio inputs decoded to ({[field] = {mime, size, bytes}}).
function M.validate(body)
  local problems, inputs = {}, {}
  if type(body) ~= "table" or is_array(body) then
    problems[1] = "body must be a JSON object"
    return problems, inputs
  end
  local model = body.model
  local entry = type(model) == "string" and M.models[model] or nil
  if isnull(model) then
    problems[#problems + 1] = "model should not be empty"
  elseif not entry then
    problems[#problems + 1] = "model must be one of the following values: " .. join(model_names())
  end
  if entry then check_fields(problems, entry.fields, body, "", inputs) end
  return problems, inputs
end

---------------------------------------------------------------------------
-- responses

local function new_response(status, body, content_type)
  return { status = status, headers = { { "Content-Type", content_type } }, body = body or "" }
end

local function set_header(resp, name, value)
  local lname = name:lower()
  for _, h in ipairs(resp.headers) do
    if h[1]:lower() == lname then
      h[2] = value
      return
    end
  end
  resp.headers[#resp.headers + 1] = { name, value }
end

local function json_response(status, obj)
  return new_response(status, json.encode(obj), "application/json; charset=utf-8")
end

local function list_response(list)
  return new_response(200, encode_list(list), "application/json; charset=utf-8")
end

local function head_bytes(resp, keep_alive, content_length)
  local t = { string.format("HTTP/1.1 %d %s\r\n", resp.status, REASONS[resp.status] or "Unknown") }
  local has = {}
  for _, h in ipairs(resp.headers) do
    t[#t + 1] = tostring(h[1]) .. ": " .. tostring(h[2]) .. "\r\n"
    has[tostring(h[1]):lower()] = true
  end
  if not has["content-length"] then t[#t + 1] = "Content-Length: " .. fmt_int(content_length) .. "\r\n" end
  if not has["connection"] then
    t[#t + 1] = "Connection: " .. (keep_alive and "keep-alive" or "close") .. "\r\n"
  end
  if not has["date"] then t[#t + 1] = os.date("!Date: %a, %d %b %Y %H:%M:%S GMT\r\n") end
  if not has["server"] then t[#t + 1] = "Server: aimlmusic-mock\r\n" end
  t[#t + 1] = "\r\n"
  return table.concat(t)
end

---------------------------------------------------------------------------
-- the server object

local Server = {}
Server.__index = Server

function Server:_error_body(status, message, path)
  return {
    statusCode = status,
    message = message,
    path = path,
    requestId = uuid4(),
    timestamp = iso8601(wall_time(self.uv)),
  }
end

function Server:_error(status, message, path)
  return json_response(status, self:_error_body(status, message, path))
end

function Server:_xml_error(status, code, message)
  local body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>' .. code .. "</Code>\n  <Message>"
    .. message .. "</Message>\n  <RequestId>" .. rand_chars(HEX, 24):upper() .. "</RequestId>\n  <HostId>"
    .. self.cdn_host .. "</HostId>\n</Error>\n"
  return new_response(status, body, "application/xml")
end

function Server:_ms()
  return self.uv.hrtime() / 1e6
end

function Server:_report(msg)
  local ok = pcall(self.on_error, msg)
  if not ok then io.stderr:write("aimlmusic mock: " .. tostring(msg) .. "\n") end
end

-- Run fn(...) protected: a bug in the mock must never take down the loop.
function Server:_guard(fn, ...)
  local args, n = { ... }, select("#", ...)
  local ok, err = xpcall(function() return fn(unpack(args, 1, n)) end, debug.traceback)
  if not ok then self:_report(err) end
  return ok
end

---------------------------------------------------------------------------
-- state and control

function Server:reset()
  self.by_id, self.job_list, self.tokens = {}, {}, {}
  self.log = {}
  self.faults = {}
  self.job_errors = {}
  self.config = copy(self.start_config)
end

local CONFIG_KEYS = {
  key = "string",
  duration = "number",
  audio_seconds = "number",
  url_ttl = "number",
}

--- Merge settings (key, duration, audio_seconds, url_ttl). Returns true | nil, err.
function Server:configure(t)
  if type(t) ~= "table" or is_array(t) then return nil, "config must be a JSON object" end
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

local ACTIONS = { close = true, garbage = true, truncate = true, slow = true, trickle = true, endless = true }

--- Queue a fault (see M.USAGE). Returns true | nil, err.
function Server:add_fault(f)
  if type(f) ~= "table" or is_array(f) then return nil, "fault must be a JSON object" end
  local times = isnull(f.times) and 1 or f.times
  if type(times) ~= "number" or times ~= math.floor(times) then
    return nil, "fault times must be an integer (negative: forever)"
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
  if not (fault.status or fault.action or fault.delay_ms or fault.headers or fault.body
    or fault.json ~= nil) then
    return nil, "fault does nothing: give status, action, delay_ms, headers, body, json or job_error"
  end
  self.faults[#self.faults + 1] = fault
  return true
end

function Server:_take_fault(kind, req)
  for i, f in ipairs(self.faults) do
    local method_ok = f.method == "*" or f.method == req.method
      or (f.method == "GET" and req.method == "HEAD")
    local path_ok = not f.path or req.path:sub(1, #f.path) == f.path
    if f.host == kind and method_ok and path_ok then
      if f.times > 0 then
        f.times = f.times - 1
        if f.times == 0 then table.remove(self.faults, i) end
      end
      return f
    end
  end
  return nil
end

--- The request log: every request on both hosts except /_mock/, oldest first.
function Server:requests()
  return self.log
end

function Server:_job_status(job)
  local elapsed = (self:_ms() - job.t0) / 1000
  if elapsed >= job.duration then
    return job.error and "error" or "completed"
  elseif elapsed < job.duration / 3 then
    return "queued"
  end
  return "generating"
end

local function job_audio(job)
  if job.format == "mp3" then return M.mp3() end
  if job.format == "wav" then return M.wav(job.sample_rate, job.audio_seconds) end
  return M.pcm(job.sample_rate, job.audio_seconds)
end

function Server:_audio_url(job)
  return self.cdn_url .. "/audio/" .. job.token .. "." .. job.format .. "?Expires=" .. fmt_int(job.expires)
    .. "&Signature=" .. job.signature
end

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

--- The jobs, oldest first: {id, model, status, created, format, sample_rate, audio_seconds,
-- url?, params, inputs}. params: the body as received, with each decoded data: URI replaced by
-- a summary; inputs[field] = {mime, size, hex?}: the audio it decoded to (hex up to 1 MB).
function Server:jobs()
  local r = {}
  for i, job in ipairs(self.job_list) do
    local st = self:_job_status(job)
    local params, inputs = copy(job.body), {}
    for name, input in pairs(job.inputs) do
      params[name] = "data:" .. input.mime .. ";base64,..."
      inputs[name] = { mime = input.mime, size = input.size, hex = input.size <= MB and hex(input.bytes) or nil }
    end
    r[i] = {
      id = job.id, model = job.model, status = st, created = job.created, format = job.format,
      sample_rate = job.sample_rate, audio_seconds = job.audio_seconds,
      url = st == "completed" and self:_audio_url(job) or nil, params = params, inputs = inputs,
    }
  end
  return r
end

-- What the mock knows of a job's audio, by the st names of the model's response mapping.
local function audio_facts(job, audio)
  local f = {
    duration_ms = math.floor(job.audio_seconds * 1000 + 0.5),
    sample_rate = job.sample_rate,
    channels = job.channels,
    bitrate = job.bitrate,
    size = #audio,
    content_type = CONTENT_TYPES[job.format],
    file_name = job.token .. "." .. job.format,
  }
  if job.format == "mp3" then
    -- The MP3 is a fixed fixture: describe the file actually served.
    f.duration_ms, f.sample_rate, f.channels, f.bitrate = 2000, 16000, 1, 24000
  end
  return f
end

-- Sets obj at the dotted path to v, creating the objects on the way.
local function set_path(obj, path, v)
  local parts = {}
  for p in path:gmatch("[^.]+") do parts[#parts + 1] = p end
  for i = 1, #parts - 1 do
    if type(obj[parts[i]]) ~= "table" then obj[parts[i]] = {} end
    obj = obj[parts[i]]
  end
  obj[parts[#parts]] = v
end

function Server:_job_view(job)
  local st = self:_job_status(job)
  local v = { id = job.id, status = st }
  if st == "completed" then
    local facts = audio_facts(job, job_audio(job))
    v.audio_file = { url = self:_audio_url(job) }
    -- The answer carries what the model's response mapping reads, where it reads it.
    local entry = M.models[job.model] or {}
    for _, r in ipairs(entry.response or {}) do
      if facts[r.to] ~= nil then set_path(v, r.from, facts[r.to]) end
    end
    v.meta = { usage = { credits_used = CREDITS[job.model] or DEFAULT_CREDITS } }
    v.trace_id = job.trace_id
  elseif st == "error" then
    v.error = { name = job.error.name, message = job.error.message }
    v.trace_id = job.trace_id
  end
  return v
end

---------------------------------------------------------------------------
-- the API host

function Server:_authorized(req)
  local a = req.headers.authorization
  if not a then return false end
  local scheme, token = a:match("^(%S+)%s+(.-)%s*$")
  return scheme ~= nil and scheme:lower() == "bearer" and token == self.config.key
end

function Server:_create(req)
  local ok, body = pcall(json.decode, req.body)
  if not ok then
    local why = tostring(body):gsub("^.-:%d+: ", "")
    return self:_error(400, "Request body is not valid JSON: " .. why, req.path)
  end
  if type(body) ~= "table" or is_array(body) then
    return self:_error(400, "Request body must be a JSON object", req.path)
  end
  local problems, inputs = M.validate(body)
  if #problems > 0 then return self:_error(400, problems, req.path) end
  local entry = M.models[body.model]
  local as = type(body.audio_setting) == "table" and body.audio_setting or {}
  local rate = not isnull(as.audio_sample_rate) and as.audio_sample_rate
    or not isnull(as.sample_rate) and as.sample_rate or 44100
  -- A field marked duration sets the length of the audio (its default when not given).
  local seconds = self.config.audio_seconds
  for _, spec in ipairs(entry.fields) do
    local v = wire_value(body, spec)
    if v == nil then v = spec.default end
    if spec.duration and type(v) == "number" then
      seconds = spec.duration == "ms" and v / 1000 or v
    end
  end
  local now = wall_time(self.uv)
  local job = {
    id = uuid4() .. ":" .. body.model,
    model = body.model,
    format = isnull(as.format) and (entry.format or "mp3") or as.format,
    sample_rate = math.floor(rate),
    bitrate = math.floor(isnull(as.bitrate) and 256000 or as.bitrate),
    channels = 1,
    created = now,
    t0 = self:_ms(),
    duration = self.config.duration,
    audio_seconds = seconds,
    inputs = inputs,
    body = body,
    token = rand_chars(ALNUM, 24),
    signature = rand_chars(HEX, 40),
    trace_id = rand_chars(HEX, 32),
    error = table.remove(self.job_errors, 1),
  }
  job.expires = math.floor(now + job.duration + self.config.url_ttl)
  self.by_id[job.id] = job
  self.job_list[#self.job_list + 1] = job
  self.tokens[job.token] = job
  return json_response(200, { id = job.id, status = "queued" })
end

function Server:_get(req)
  local gid = parse_query(req.query).generation_id
  if not gid or gid == "" then return self:_error(400, { "generation_id should not be empty" }, req.path) end
  local job = self.by_id[gid]
  if not job then return self:_error(404, "Generation not found", req.path) end
  return json_response(200, self:_job_view(job))
end

function Server:_api(req)
  local m = req.method
  if req.path ~= API_PATH or (m ~= "POST" and m ~= "GET" and m ~= "HEAD") then
    return self:_error(404, "Cannot " .. m .. " " .. req.path, req.path)
  end
  if not self:_authorized(req) then return self:_error(401, "Unauthorized", req.path) end
  if m == "POST" then return self:_create(req) end
  return self:_get(req)
end

---------------------------------------------------------------------------
-- the CDN host

function Server:_cdn(req)
  local token, ext = req.path:match("^/audio/([%w_%-]+)%.(%w+)$")
  if not token then return self:_xml_error(404, "NoSuchKey", "The specified key does not exist.") end
  if req.method ~= "GET" and req.method ~= "HEAD" then
    return self:_xml_error(405, "MethodNotAllowed",
      "The specified method is not allowed against this resource.")
  end
  local job = self.tokens[token]
  if not job or job.format ~= ext or self:_job_status(job) ~= "completed" then
    return self:_xml_error(404, "NoSuchKey", "The specified key does not exist.")
  end
  local q = parse_query(req.query)
  if q.Signature ~= job.signature or tonumber(q.Expires or "") ~= job.expires then
    return self:_xml_error(403, "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided.")
  end
  if job.expires < os.time() then
    return self:_xml_error(403, "AccessDenied", "Request has expired.")
  end
  local audio = job_audio(job)
  local size = #audio
  local resp = new_response(200, audio, CONTENT_TYPES[job.format])
  set_header(resp, "Accept-Ranges", "bytes")
  set_header(resp, "ETag", '"' .. job.token .. '"')
  local range = req.headers.range
  if range then
    local a, b = range:match("^%s*bytes%s*=%s*(%d*)%s*%-%s*(%d*)%s*$")
    local first, last
    if a and a ~= "" then
      first = tonumber(a)
      last = b ~= "" and math.min(tonumber(b), size - 1) or size - 1
      if b ~= "" and tonumber(b) < first then first = nil end
    elseif a and b ~= "" then
      local suffix = tonumber(b)
      if suffix == 0 then first = size else first, last = math.max(0, size - suffix), size - 1 end
    end
    if first and first >= size then
      local r = self:_xml_error(416, "InvalidRange", "The requested range is not satisfiable.")
      set_header(r, "Content-Range", "bytes */" .. fmt_int(size))
      return r
    elseif first then
      resp.status = 206
      resp.body = audio:sub(first + 1, last + 1)
      set_header(resp, "Content-Range",
        "bytes " .. fmt_int(first) .. "-" .. fmt_int(last) .. "/" .. fmt_int(size))
    end
  end
  return resp
end

---------------------------------------------------------------------------
-- the control channel (/_mock/ on the API host, no auth)

local function decode_object(text)
  local ok, v = pcall(json.decode, text ~= "" and text or "{}")
  if not ok then return nil, "body is not valid JSON" end
  if type(v) ~= "table" or is_array(v) then return nil, "body must be a JSON object" end
  return v
end

function Server:_control(req)
  local p, m = req.path, req.method
  local function bad(msg) return self:_error(400, msg, p) end
  if p == "/_mock/reset" and m == "POST" then
    self:reset()
    return json_response(200, { ok = true })
  elseif p == "/_mock/config" and m == "GET" then
    return json_response(200, self.config)
  elseif p == "/_mock/config" and m == "POST" then
    local obj, err = decode_object(req.body)
    if not obj then return bad(err) end
    local ok, cerr = self:configure(obj)
    if not ok then return bad(cerr) end
    return json_response(200, self.config)
  elseif p == "/_mock/fault" and m == "POST" then
    local obj, err = decode_object(req.body)
    if not obj then return bad(err) end
    local ok, ferr = self:add_fault(obj)
    if not ok then return bad(ferr) end
    return json_response(200, { ok = true, faults = #self.faults, job_errors = #self.job_errors })
  elseif p == "/_mock/faults" and m == "GET" then
    return list_response(self.faults)
  elseif p == "/_mock/requests" and m == "GET" then
    return list_response(self.log)
  elseif p == "/_mock/jobs" and m == "GET" then
    return list_response(self:jobs())
  end
  return self:_error(404, "Cannot " .. m .. " " .. p, p)
end

---------------------------------------------------------------------------
-- HTTP/1.1 plumbing

function Server:_after(conn, ms, fn)
  local uv = self.uv
  local t = uv.new_timer()
  conn.timers[t] = true
  t:start(math.max(0, math.floor(ms)), 0, function()
    conn.timers[t] = nil
    if not t:is_closing() then t:close() end
    if conn.closed then return end
    if not self:_guard(fn) then self:_close_conn(conn, false) end
  end)
  return t
end

function Server:_close_conn(conn, graceful)
  if conn.closed then return end
  conn.closed = true
  self.conns[conn] = nil
  for t in pairs(conn.timers) do
    if not t:is_closing() then t:close() end
  end
  conn.timers = {}
  local tcp = conn.tcp
  if tcp:is_closing() then return end
  pcall(tcp.read_stop, tcp)
  if graceful then
    local ok, r = pcall(tcp.shutdown, tcp, function()
      if not tcp:is_closing() then tcp:close() end
    end)
    if ok and r then return end
  end
  tcp:close()
end

local function conn_write(conn, data)
  if conn.closed or data == "" then return end
  conn.tcp:write(data)
end

-- The response to one request is done: go on with the connection.
function Server:_finish(conn, keep)
  if conn.closed then return end
  if not keep then
    self:_close_conn(conn, true)
    return
  end
  conn.busy = false
  if not conn.in_pump then self:_pump(conn) end
end

function Server:_send(conn, req, resp)
  local keep = req.keep_alive and not resp.close and not self.closed
  for _, h in ipairs(resp.headers) do
    if tostring(h[1]):lower() == "connection" and has_token(tostring(h[2]), "close") then keep = false end
  end
  local body = resp.body or ""
  local declared = #body
  if resp.mode == "truncate" and declared == 0 then declared = 100 end
  local head = head_bytes(resp, keep, declared)
  if req.method == "HEAD" then body = "" end
  local function go()
    if conn.closed then return end
    if resp.mode == "truncate" then
      conn_write(conn, head .. body:sub(1, math.floor(#body / 2)))
      self:_close_conn(conn, true)
    elseif resp.mode == "slow" and #body > 0 then
      conn_write(conn, head)
      local pieces = math.min(#body, 10)
      local size = math.ceil(#body / pieces)
      local step = (resp.slow_ms or 1000) / pieces
      local pos = 1
      local function next_piece()
        conn_write(conn, body:sub(pos, pos + size - 1))
        pos = pos + size
        if pos > #body then
          self:_finish(conn, keep)
        else
          self:_after(conn, step, next_piece)
        end
      end
      self:_after(conn, step, next_piece)
    else
      conn_write(conn, head .. body)
      self:_finish(conn, keep)
    end
  end
  if resp.mode == "trickle" or resp.mode == "endless" then
    return self:_stream(conn, req, resp, keep)
  end
  if (resp.delay_ms or 0) > 0 then
    self:_after(conn, resp.delay_ms, go)
  else
    go()
  end
end

-- Faults that never finish a body on their own. trickle: the body, 16 bytes every delay_ms
-- (default 250), for at most 30 s. endless: a chunked body of 64 KiB chunks as fast as the
-- client reads, up to 4 GiB. Both stop when the client goes away.
local TRICKLE_BYTES, TRICKLE_MAX_MS = 16, 30000
local ENDLESS_CHUNK, ENDLESS_MAX = 64 * 1024, 4 * 1024 * 1024 * 1024

function Server:_stream(conn, req, resp, keep)
  local body = resp.body or ""
  if resp.mode == "trickle" then
    local step = resp.delay_ms or 250
    local pos, started = 1, self:_ms()
    conn_write(conn, head_bytes(resp, keep, #body))
    local function next_piece()
      if self:_ms() - started > TRICKLE_MAX_MS then return self:_close_conn(conn, false) end
      conn_write(conn, body:sub(pos, pos + TRICKLE_BYTES - 1))
      pos = pos + TRICKLE_BYTES
      if pos > #body then return self:_finish(conn, keep) end
      self:_after(conn, step, next_piece)
    end
    self:_after(conn, step, next_piece)
    return
  end
  set_header(resp, "Transfer-Encoding", "chunked")
  local head = head_bytes(resp, false, 0):gsub("Content%-Length: %d+\r\n", "")
  local chunk = string.format("%x\r\n", ENDLESS_CHUNK) .. string.rep("\0", ENDLESS_CHUNK) .. "\r\n"
  local sent = 0
  local function more()
    if conn.closed or conn.tcp:is_closing() then return end
    if sent >= ENDLESS_MAX then return self:_close_conn(conn, true) end
    sent = sent + ENDLESS_CHUNK
    -- The next chunk goes out once this one is written: paced by the client's reading.
    conn.tcp:write(chunk, function(err) if not err then self:_guard(more) end end)
  end
  conn_write(conn, head)
  if req.method ~= "HEAD" then more() end
end

function Server:_handle(kind, req)
  if kind == "cdn" then return self:_cdn(req) end
  return self:_api(req)
end

function Server:_apply_fault(conn, req, f)
  if f.action == "close" then
    local function drop() self:_close_conn(conn, false) end
    if (f.delay_ms or 0) > 0 then self:_after(conn, f.delay_ms, drop) else drop() end
    return
  end
  local resp
  if f.action == "garbage" then
    resp = new_response(f.status or 200, f.body or GARBAGE, "application/json; charset=utf-8")
  elseif f.status or f.body or f.json ~= nil then
    local status = f.status or 200
    if f.body then
      resp = new_response(status, f.body, "text/plain; charset=utf-8")
    elseif f.json ~= nil then
      resp = new_response(status, json.encode(f.json), "application/json; charset=utf-8")
    else
      resp = self:_error(status, REASONS[status] or "Error", req.path)
    end
  else
    resp = self:_handle(conn.kind, req)
  end
  for k, v in pairs(f.headers or {}) do set_header(resp, k, v) end
  if f.action == "slow" then
    resp.mode, resp.slow_ms = "slow", f.delay_ms or 1000
  elseif f.action == "trickle" or f.action == "endless" then
    resp.mode, resp.delay_ms = f.action, f.delay_ms
  else
    resp.mode, resp.delay_ms = f.action, f.delay_ms
  end
  self:_send(conn, req, resp)
end

function Server:_log_request(conn, req)
  local log = self.log
  log[#log + 1] = {
    host = conn.kind, conn = conn.id, method = req.method, path = req.path, query = req.query,
    headers = req.headers, body = req.body, time = wall_time(self.uv),
  }
  if #log > MAX_LOG then table.remove(log, 1) end
end

function Server:_dispatch(conn, req)
  if conn.kind == "api" and (req.path == "/_mock" or req.path:sub(1, 7) == "/_mock/") then
    return self:_send(conn, req, self:_control(req))
  end
  self:_log_request(conn, req)
  local fault = self:_take_fault(conn.kind, req)
  if fault then return self:_apply_fault(conn, req, fault) end
  return self:_send(conn, req, self:_handle(conn.kind, req))
end

-- Answer a request that cannot be parsed, then close the connection.
function Server:_reject(conn, status, message)
  local resp = self:_error(status, message, "")
  self:_send(conn, { method = "GET", keep_alive = false }, resp)
end

local HEADER_LINE = "^([!#$%%&'*+%-.^_`|~%w]+):[ \t]*(.-)[ \t]*$"

-- Parse one request out of conn.buf. Returns req, or nil (need more bytes),
-- or false, status, message (malformed).
local function parse_request(conn)
  if not conn.head then
    local buf = conn.buf
    local s = buf:find("[^\r\n]")
    if not s then
      conn.buf = ""
      return nil
    end
    if s > 1 then buf = buf:sub(s) end
    conn.buf = buf
    local e1, e2 = buf:find("\r?\n\r?\n")
    if not e1 then
      if #buf > MAX_HEAD then return false, 431, "request headers too large" end
      return nil
    end
    local lines = {}
    for line in (buf:sub(1, e1 - 1) .. "\n"):gmatch("([^\n]*)\n") do
      lines[#lines + 1] = (line:gsub("\r$", ""))
    end
    conn.buf = buf:sub(e2 + 1)
    local method, target, major, minor = lines[1]:match("^(%u+) (%S+) HTTP/(%d)%.(%d)$")
    if not method then return false, 400, "malformed request line" end
    if major ~= "1" then return false, 505, "only HTTP/1.x is supported" end
    if target:match("^https?://") then target = target:match("^https?://[^/]*(.*)$") end
    if target:sub(1, 1) ~= "/" then
      if target == "" then target = "/" else return false, 400, "malformed request target" end
    end
    local headers = {}
    for i = 2, #lines do
      local name, value = lines[i]:match(HEADER_LINE)
      if not name then return false, 400, "malformed header line" end
      name = name:lower()
      if headers[name] then headers[name] = headers[name] .. ", " .. value else headers[name] = value end
    end
    local clen = 0
    if headers["transfer-encoding"] then
      return false, 411, "chunked request bodies are not supported: send Content-Length"
    end
    if headers["content-length"] then
      local v = headers["content-length"]:match("^(%d+)$")
      if not v then return false, 400, "malformed Content-Length" end
      clen = tonumber(v)
      if clen > MAX_BODY then return false, 413, "request body too large" end
    end
    local path, query = target:match("^([^?#]*)%??([^#]*)")
    local keep
    if minor == "0" then
      keep = has_token(headers.connection, "keep-alive")
    else
      keep = not has_token(headers.connection, "close")
    end
    conn.head = {
      method = method, target = target, path = path, query = query, headers = headers,
      version = major .. "." .. minor, keep_alive = keep, clen = clen,
    }
    if clen > #conn.buf and has_token(headers.expect, "100-continue") then
      conn_write(conn, "HTTP/1.1 100 Continue\r\n\r\n")
    end
  end
  local req = conn.head
  if #conn.buf < req.clen then return nil end
  req.body = conn.buf:sub(1, req.clen)
  conn.buf = conn.buf:sub(req.clen + 1)
  req.clen = nil
  conn.head = nil
  return req
end

function Server:_pump(conn)
  if conn.in_pump then return end
  conn.in_pump = true
  local ok = self:_guard(function()
    while not conn.closed and not conn.busy do
      local req, status, message = parse_request(conn)
      if req == false then
        conn.busy = true
        self:_reject(conn, status, message)
        return
      end
      if not req then break end
      conn.busy = true
      self:_dispatch(conn, req)
    end
    if conn.eof and not conn.busy then self:_close_conn(conn, true) end
  end)
  conn.in_pump = false
  if not ok and not conn.closed then
    -- a bug in a handler: answer 500 rather than hang or crash
    conn_write(conn, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
      .. "Content-Length: 21\r\nConnection: close\r\n\r\nmock internal error\r\n")
    self:_close_conn(conn, true)
  end
end

function Server:_accept(kind, listener)
  local uv = self.uv
  local tcp = uv.new_tcp()
  if not tcp then return end
  local ok = listener:accept(tcp)
  if not ok or self.closed then
    tcp:close()
    return
  end
  self.next_conn = self.next_conn + 1
  local conn = {
    id = self.next_conn, kind = kind, tcp = tcp, buf = "", busy = false, closed = false, timers = {},
  }
  self.conns[conn] = true
  pcall(tcp.nodelay, tcp, true)
  tcp:read_start(function(err, data)
    if conn.closed then return end
    if err or not data then
      conn.eof = true
      if err then
        self:_close_conn(conn, false)
        return
      end
    else
      conn.buf = conn.buf .. data
    end
    self:_pump(conn)
  end)
end

function Server:_listen(kind, host, port)
  local uv = self.uv
  local tcp = uv.new_tcp()
  local ok, err = tcp:bind(host, port)
  if ok then
    ok, err = tcp:listen(128, function(lerr)
      if lerr then return end
      self:_guard(self._accept, self, kind, tcp)
    end)
  end
  if not ok then
    tcp:close()
    return nil, "cannot listen on " .. host .. ":" .. tostring(port) .. ": " .. tostring(err)
  end
  local name = tcp:getsockname()
  return tcp, name.port
end

--- Close the listeners and every connection. The loop ends once nothing else runs.
function Server:close()
  if self.closed then return end
  self.closed = true
  for _, h in ipairs({ self.api_tcp, self.cdn_tcp, self.sigpipe }) do
    if h and not h:is_closing() then h:close() end
  end
  for conn in pairs(self.conns) do self:_close_conn(conn, false) end
end

--- Start the servers on luv's loop (opts.loop: the luv module to use, e.g. vim.uv).
-- Returns the server, or nil, err when a port cannot be bound.
function M.start(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("aimlmusic.mock.start: opts must be a table", 2) end
  local uv = opts.loop or opts.uv or require("luv")
  local self = setmetatable({ uv = uv, conns = {}, next_conn = 0, closed = false }, Server)
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
  self.host, self.cdn_host = o.host, o.cdn_host
  self.start_config = {
    key = o.key, duration = o.duration, audio_seconds = o.audio_seconds, url_ttl = o.url_ttl,
  }
  self:reset()
  local ok, err = self:configure(copy(self.start_config))
  if not ok then error("aimlmusic.mock.start: " .. err, 2) end

  local api, api_port = self:_listen("api", o.host, o.port)
  if not api then return nil, api_port end
  local cdn, cdn_port = self:_listen("cdn", o.cdn_host, o.cdn_port)
  if not cdn and opts.cdn_host == nil then
    -- 127.0.0.2 is not configured everywhere (macOS): fall back to the API's address
    self.cdn_fallback = true
    self.cdn_host = o.host
    cdn, cdn_port = self:_listen("cdn", o.host, o.cdn_port)
  end
  if not cdn then
    api:close()
    return nil, cdn_port
  end
  self.api_tcp, self.cdn_tcp = api, cdn
  self.api_port, self.cdn_port = api_port, cdn_port
  self.api_url = "http://" .. o.host .. ":" .. fmt_int(api_port)
  self.cdn_url = "http://" .. self.cdn_host .. ":" .. fmt_int(cdn_port)
  if opts.ignore_sigpipe ~= false and uv.new_signal then
    -- a client hanging up mid-body must not kill the process
    local sig = uv.new_signal()
    if sig and pcall(sig.start, sig, "sigpipe", function() end) then
      self.sigpipe = sig
      if sig.unref then sig:unref() end
    elseif sig then
      sig:close()
    end
  end
  return self
end

---------------------------------------------------------------------------
-- command line

M.USAGE = [[
usage: aimlmusic-mock [options]

An offline stand-in for the AI/ML API music service: every model of aimlmusic.models.

  --host HOST            API address (127.0.0.1)
  --cdn-host HOST        audio CDN address (127.0.0.2)
  --port N               API port (0: any free port)
  --cdn-port N           CDN port (0: any free port)
  --key KEY              the API key clients must send (test-key)
  --duration S           seconds a job takes to complete (2)
  --audio-seconds S      length of the generated audio (2)
  --url-ttl S            validity of the signed audio URLs (86400)
  --port-file PATH       write "API_URL CDN_URL" to PATH once listening
  --max-lifetime S       exit after S seconds (1800; 0: never)
  --watch-stdin          exit when stdin reaches end of file
  -h, --help             this text

Control channel (API host, no auth): POST /_mock/reset, POST /_mock/config {duration,
key, audio_seconds, url_ttl}, POST /_mock/fault {host, method, path, times, status,
headers, body | json, delay_ms, action = close|garbage|truncate|slow|trickle|endless, job_error},
GET /_mock/requests, GET /_mock/jobs, GET /_mock/faults, GET /_mock/config.
]]

local VALUE_FLAGS = {
  ["--host"] = { "host", "string" },
  ["--cdn-host"] = { "cdn_host", "string" },
  ["--port"] = { "port", "number" },
  ["--cdn-port"] = { "cdn_port", "number" },
  ["--key"] = { "key", "string" },
  ["--duration"] = { "duration", "number" },
  ["--audio-seconds"] = { "audio_seconds", "number" },
  ["--url-ttl"] = { "url_ttl", "number" },
  ["--port-file"] = { "port_file", "string" },
  ["--max-lifetime"] = { "max_lifetime", "number" },
}

function M.parse_args(argv)
  local o = { max_lifetime = 1800 }
  local i = 1
  while argv[i] do
    local a = argv[i]
    local flag, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
    flag = flag or a
    if flag == "-h" or flag == "--help" then
      o.help = true
    elseif flag == "--watch-stdin" then
      o.watch_stdin = true
    elseif VALUE_FLAGS[flag] then
      local spec = VALUE_FLAGS[flag]
      local v = inline
      if v == nil then
        i = i + 1
        v = argv[i]
      end
      if v == nil then return nil, flag .. " needs a value" end
      if spec[2] == "number" then
        local n = tonumber(v)
        if not n or n < 0 then return nil, flag .. " needs a non-negative number, got " .. v end
        v = n
      end
      o[spec[1]] = v
    else
      return nil, "unknown option " .. a
    end
    i = i + 1
  end
  return o
end

local function seed_random(uv)
  local seed = os.time()
  local f = io.open("/dev/urandom", "rb")
  if f then
    local b = f:read(4)
    f:close()
    if b and #b == 4 then
      seed = b:byte(1) + b:byte(2) * 256 + b:byte(3) * 65536 + (b:byte(4) % 64) * 16777216
    end
  end
  seed = seed + math.floor(uv.hrtime() % 1000003)
  math.randomseed(math.floor(seed % 2147483647))
end

local function write_port_file(uv, path, line)
  local tmp = path .. ".tmp" .. tostring(uv.os_getpid and uv.os_getpid() or os.time())
  local f, err = io.open(tmp, "w")
  if not f then return nil, err end
  f:write(line, "\n")
  f:close()
  local ok, rerr = os.rename(tmp, path)
  if not ok then
    os.remove(tmp)
    return nil, rerr
  end
  return true
end

--- The command-line entry. Returns the process exit code.
function M.main(argv)
  local o, perr = M.parse_args(argv or {})
  if not o then
    io.stderr:write("aimlmusic-mock: " .. perr .. "\n\n" .. M.USAGE)
    return 2
  end
  if o.help then
    io.stdout:write(M.USAGE)
    return 0
  end
  local has_uv, uv = pcall(require, "luv")
  if not has_uv then
    io.stderr:write("aimlmusic-mock: the mock server runs on luv (libuv for Lua), which is not installed:\n"
      .. "  luarocks install luv    (Debian/Ubuntu: apt install lua-luv)\n")
    return 1
  end
  seed_random(uv)
  local srv, err = M.start(o)
  if not srv then
    io.stderr:write("aimlmusic-mock: " .. tostring(err) .. "\n")
    return 1
  end
  local handles = {}
  local exit_code, done = 0, false
  local function shutdown(code)
    if done then return end
    done = true
    exit_code = code or 0
    srv:close()
    for _, h in ipairs(handles) do
      if not h:is_closing() then h:close() end
    end
    if o.port_file then os.remove(o.port_file) end
    uv.stop()
  end
  local function handle(h)
    handles[#handles + 1] = h
    return h
  end

  for _, name in ipairs({ "sigint", "sigterm", "sighup" }) do
    local sig = handle(uv.new_signal())
    sig:start(name, function() shutdown(0) end)
  end
  if o.max_lifetime and o.max_lifetime > 0 then
    local t = handle(uv.new_timer())
    t:start(math.floor(o.max_lifetime * 1000), 0, function() shutdown(0) end)
  end
  if uv.os_getppid then
    local ppid = uv.os_getppid()
    local t = handle(uv.new_timer())
    t:start(1000, 1000, function()
      if uv.os_getppid() ~= ppid then shutdown(0) end
    end)
  end
  if o.watch_stdin then
    local kind = uv.guess_handle(0)
    local h
    if kind == "pipe" then
      h = uv.new_pipe(false)
      h:open(0)
    elseif kind == "tty" then
      h = uv.new_tty(0, true)
    end
    if h then
      handle(h)
      h:read_start(function(rerr, data)
        if rerr or not data then shutdown(0) end
      end)
    else
      local function read_more()
        uv.fs_read(0, 65536, -1, function(rerr, data)
          if done then return end
          if rerr or not data or data == "" then shutdown(0) else read_more() end
        end)
      end
      read_more()
    end
  end

  if srv.cdn_fallback then
    io.stderr:write("aimlmusic-mock: 127.0.0.2 is not available, the CDN shares the API address\n")
  end
  io.stdout:write(string.format("aimlmusic mock: api %s cdn %s\n", srv.api_url, srv.cdn_url))
  io.stdout:flush()
  if o.port_file then
    local ok, werr = write_port_file(uv, o.port_file, srv.api_url .. " " .. srv.cdn_url)
    if not ok then
      io.stderr:write("aimlmusic-mock: cannot write port file: " .. tostring(werr) .. "\n")
      shutdown(1)
      return 1
    end
  end
  if not done then uv.run() end
  shutdown(exit_code)
  return exit_code
end

return M
