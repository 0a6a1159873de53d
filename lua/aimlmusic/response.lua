-- What a failed request came to: one error whose kind says what went wrong (DESIGN.md), from
-- the facts the core reports (transfer:finish(), src/response.c: libcurl's code and words with
-- the key searched out of them, the HTTP status, the error body decoded likewise). A request
-- that succeeded comes back from the core as it is: a job, a status table or a download's info
-- (the hot path stays in C). Errors carry the facts `request` and `sent` for the retry policy
-- (aimlmusic.retry), which alone decides `retryable`. Owns: the kinds and the messages. Must not
-- know: transfers' insides, files, sessions or the engine.

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local core = require "aimlmusic.core"
local new_error = require("aimlmusic.errors").new

local type, sub, format, concat = type, string.sub, string.format, table.concat

local M = {}

local cut_nul = require("aimlmusic.errors").cut_nul

local function fail(f, kind, message, sent, fields)
  fields = fields or {}
  fields.request, fields.sent = f.request, sent
  return new_error(kind, cut_nul(message), fields)
end

-- Transport failures where the request cannot have reached the server.
local NOT_SENT = { COULDNT_RESOLVE_PROXY = true, COULDNT_RESOLVE_HOST = true, COULDNT_CONNECT = true,
                   SSL_CONNECT_ERROR = true }
local RESENT = "no answer came on the connection the request was sent on: it may have reached the server, "
  .. "so it is not sent again"

-- A transport failure: the kind, and whether the request can have reached the server.
local function curl_failure(f)
  local code, kind, text, sent = f.code, "network", f.text, true
  if code == "WRITE_ERROR" then
    if f.io_code then -- the errno is the cause (ENOSPC: the disk is full), not libcurl's WRITE_ERROR
      local what = f.create_failed and "cannot create a file beside " .. (f.target or "the target")
        or "writing " .. (f.path or f.target or "the download")
      return fail(f, "io", what .. ": " .. f.io_text, true, { code = f.io_code })
    end
    if f.oversize == 1 then
      return fail(f, "protocol", format("the download passed max_bytes (%.0f bytes)", f.max_bytes or 0), true)
    elseif f.oversize then
      return fail(f, "protocol", format("the download passed the %.0f bytes the job reported", f.expected or 0), true)
    end
    if f.body_overflow then
      local status = f.status
      if f.request == "download" and status >= 300 and status <= 399 then
        return fail(f, "protocol", format("a redirect (HTTP %d) sent a body of more than 64 KiB", status), true)
      end
      return fail(f, "protocol", f.request == "download" and "error response body too large"
        or "response body larger than 1 MiB", true)
    end
  elseif code == "OPERATION_TIMEDOUT" then
    kind = "timeout"
    if f.expired then text = "the download did not finish before its deadline (download_timeout)" end
  elseif code == "FILESIZE_EXCEEDED" then
    return fail(f, "protocol", format("the server announced more than max_bytes (%.0f bytes)", f.max_bytes or 0), true)
  elseif NOT_SENT[code] then
    sent = false
  elseif code == "URL_MALFORMAT" or code == "UNSUPPORTED_PROTOCOL" then
    kind = "config"
  elseif code == "ABORTED_BY_CALLBACK" then
    if f.resend_refused then -- no answer on the connection it went out on, and libcurl went to send it again
      text = RESENT
    elseif f.stalled then
      kind, text = "timeout", "the download received nothing for the request timeout"
    else
      kind = "cancelled"
    end
  end
  -- Counted sends say it, whatever the code: after a refused resend the code is libcurl's word
  -- on the second connection (refused, or never made), not on the first.
  if f.sends >= 0 then sent = f.sends > 0 end
  if f.sends > 0 and not f.resend_refused and (kind == "network" or kind == "timeout") then
    text = text .. " (after the request was sent: it may have reached the server, so it is not sent again)"
  end
  return fail(f, kind, text, sent, { code = code })
end

local REASONS = { [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [408] = "Request Timeout", [429] = "Too Many Requests", [500] = "Internal Server Error",
  [502] = "Bad Gateway", [503] = "Service Unavailable", [504] = "Gateway Timeout" }

-- The message of a provider error body: a string, or a list of strings joined with "; ".
local function body_message(body)
  local m = body.message
  if type(m) == "string" then return m end
  if type(m) ~= "table" then return nil end
  local parts = {}
  for i = 1, math.min(#m, 20) do
    if type(m[i]) == "string" then parts[#parts + 1] = m[i] end
  end
  return parts[1] and concat(parts, "; ") or nil
end

-- A 400's message list becomes err.fields: "prompt must be ..." names the field "prompt".
local function fields_from_body(body)
  local m = body.message
  if type(m) ~= "table" then return nil end
  local list = {}
  for i = 1, math.min(#m, 100) do
    local s = m[i]
    if type(s) == "string" then list[#list + 1] = { field = s:match("^[_.a-zA-Z0-9]*"), message = s } end
  end
  return list
end

-- The path of one of our own URLs, "/" when it has none; nil when it is not a URL.
local function url_path(url)
  local path = url:match("^%a[%w+.-]*://[^/?#]*([^?#]*)")
  return path and (path == "" and "/" or path)
end

-- Whether a 404 to a status request is the API's own answer that the generation id is unknown:
-- its JSON error body (statusCode 404) for the very path asked, and not the answer for a route
-- it does not have ("Cannot GET ..."). A web page or another service's 404, from a wrong base
-- URL or a proxy, says nothing about the job.
local function api_not_found(f, body)
  if not body then return false end
  local asked = "/v2/generate/audio" -- core.answer: no transfer, no URL
  if f.url then
    asked = url_path(f.url)
    if not asked then return false end
  end
  if body.statusCode ~= 404 or type(body.path) ~= "string" then return false end
  if cut_nul(body.path):match("^[^?#]*") ~= asked then return false end
  return type(body.message) ~= "string" or sub(body.message, 1, 7) ~= "Cannot "
end

-- An HTTP error status: the kind says what it means for this request.
local function http_failure(f)
  local status, download = f.status, f.request == "download"
  local kind = "http"
  if status == 400 or status == 422 then kind = "validation"
  elseif status == 401 then kind = "auth"
  elseif status == 402 or (status == 403 and not download) then kind = "credits"
  elseif status == 408 then kind = "timeout"
  elseif status == 429 then kind = "rate_limited"
  elseif status >= 500 and status <= 599 then kind = "server"
  end
  local body = type(f.body) == "table" and f.body or nil
  -- Only the API's own word ends a journaled job; any other 404 from its address is plain http.
  if status == 404 and (download or (f.request == "status" and api_not_found(f, body))) then kind = "not_found" end
  local message = body and body_message(body)
  if not message then
    message = (download and status == 403) and "the audio URL was refused (it may have expired)"
      or REASONS[status] or "HTTP error"
  end
  local fields = { status = status, retry_after = f.retry_after }
  if body then
    if type(body.requestId) == "string" then fields.request_id = body.requestId end
    if kind == "validation" then fields.fields = fields_from_body(body) end
  end
  return fail(f, kind, message, true, fields)
end

-- The error a failure's facts (src/response.c) come to.
local function failure(f)
  if f.protocol then return fail(f, "protocol", f.protocol, true) end -- a 2xx answer not as promised
  if f.cancelled then return fail(f, "cancelled", "the request was cancelled", true) end
  if f.refused then return fail(f, "config", f.refused, true) end
  if f.code then return curl_failure(f) end
  if f.no_location then
    return fail(f, "protocol", format("the download was answered HTTP %d with no Location to follow", f.status), true)
  end
  return http_failure(f)
end

--- What finished transfer t came to for request ("submit", "status" or "download") through the
-- model's response mapping map: st | job | info, or nil, err. A failed download whose partial
-- file a new Range request can go on from (a network failure or a timeout) keeps it.
function M.finish(t, request, map)
  local ok, v = t:finish(map)
  if ok then return v end
  if ok == nil then return nil, v end -- a download that could not be put in place
  local err = failure(v)
  if request == "download" and (err.kind == "network" or err.kind == "timeout") then t:keep() end
  return nil, err
end

local flats = setmetatable({}, { __mode = "k" }) -- mapping -> its flat list

--- A response mapping ({from = path, to = name}, ...) as t:finish and core.answer take it: a
-- list of from, to, from, to ..., made once per mapping (models.lua's do not change; an entry
-- that is not a table of two strings is left out, as schema.lua refuses it); nil for nil.
function M.flat(map)
  if map == nil then return nil end
  local flat = flats[map]
  if not flat then
    flat = {}
    for i = 1, #map do
      local r = map[i]
      if type(r) == "table" and type(r.from) == "string" and type(r.to) == "string" then
        flat[#flat + 1], flat[#flat + 2] = r.from, r.to
      end
    end
    flats[map] = flat
  end
  return flat
end

--- The same for an answer given as pieces (core.answer): for the fuzzer and tests.
function M.classify(kind, status, body, map, key)
  local ok, v = core.answer(kind, status, body, M.flat(map), key)
  if ok then return v end
  return nil, failure(v)
end

return M
