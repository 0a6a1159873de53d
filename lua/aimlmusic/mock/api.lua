-- aimlmusic.mock.api: the provider's two hosts as handlers of aimlmusic.mock.http. The API host
-- (127.0.0.1) creates and polls jobs under a bearer key; the CDN-like host (127.0.0.2) serves
-- their audio at signed, expiring URLs, with byte ranges. Errors come in the provider's shapes:
-- a JSON body on the API, S3's XML on the CDN.
--
-- A handler takes the server it answers for (srv.config.key, srv.store: an aimlmusic.mock.jobs
-- store, srv.cdn_host, srv.now(): the wall clock) and the request, and returns a response.

local http = require("aimlmusic.mock.http")
local util = require("aimlmusic.mock.util")
local audio = require("aimlmusic.mock.audio")

local json, is_array, fmt_int = util.json, util.is_array, util.fmt_int

local M = {}

local API_PATH = "/v2/generate/audio"

--- A JSON response.
function M.json(status, obj)
  return http.response(status, json.encode(obj), "application/json; charset=utf-8")
end

--- A JSON list response (an empty list stays a list).
function M.list(list)
  return http.response(200, util.encode_list(list), "application/json; charset=utf-8")
end

--- The API's error: {statusCode, message, path, requestId, timestamp}; message may be a list.
-- now: the wall clock, in seconds.
function M.error(status, message, path, now)
  return M.json(status, {
    statusCode = status,
    message = message,
    path = path,
    requestId = util.uuid4(),
    timestamp = util.iso8601(now),
  })
end

--- The CDN's error, as S3 writes it.
function M.xml_error(status, code, message, host)
  local body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>' .. code .. "</Code>\n  <Message>"
    .. message .. "</Message>\n  <RequestId>" .. util.rand_chars(util.HEX, 24):upper() .. "</RequestId>\n  <HostId>"
    .. host .. "</HostId>\n</Error>\n"
  return http.response(status, body, "application/xml")
end

---------------------------------------------------------------------------
-- the API host

local function authorized(srv, req)
  local a = req.headers.authorization
  if not a then return false end
  local scheme, token = a:match("^(%S+)%s+(.-)%s*$")
  return scheme ~= nil and scheme:lower() == "bearer" and token == srv.config.key
end

local function create(srv, req)
  local ok, body = pcall(json.decode, req.body)
  if not ok then
    local why = tostring(body):gsub("^.-:%d+: ", "")
    return M.error(400, "Request body is not valid JSON: " .. why, req.path, srv.now())
  end
  if type(body) ~= "table" or is_array(body) then
    return M.error(400, "Request body must be a JSON object", req.path, srv.now())
  end
  local job, problems = srv.store:create(body, srv.config)
  if not job then return M.error(400, problems, req.path, srv.now()) end
  return M.json(200, { id = job.id, status = "queued" })
end

local function get(srv, req)
  local gid = http.parse_query(req.query).generation_id
  if not gid or gid == "" then
    return M.error(400, { "generation_id should not be empty" }, req.path, srv.now())
  end
  local job = srv.store:find(gid)
  if not job then return M.error(404, "Generation not found", req.path, srv.now()) end
  return M.json(200, srv.store:view(job))
end

--- POST /v2/generate/audio creates a job, GET (or HEAD) ?generation_id= polls it.
function M.api(srv, req)
  local m = req.method
  if req.path ~= API_PATH or (m ~= "POST" and m ~= "GET" and m ~= "HEAD") then
    return M.error(404, "Cannot " .. m .. " " .. req.path, req.path, srv.now())
  end
  if not authorized(srv, req) then return M.error(401, "Unauthorized", req.path, srv.now()) end
  if m == "POST" then return create(srv, req) end
  return get(srv, req)
end

---------------------------------------------------------------------------
-- the CDN host

-- The part of size bytes a Range header asks for: first, last (0-based), or first >= size
-- when nothing of it can be served, or nil to serve everything.
local function range_of(range, size)
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
  return first, last
end

--- GET (or HEAD) /audio/TOKEN.FORMAT?Expires=&Signature=: a completed job's audio.
function M.cdn(srv, req)
  local function xml_error(status, code, message) return M.xml_error(status, code, message, srv.cdn_host) end
  local token, ext = req.path:match("^/audio/([%w_%-]+)%.(%w+)$")
  if not token then return xml_error(404, "NoSuchKey", "The specified key does not exist.") end
  if req.method ~= "GET" and req.method ~= "HEAD" then
    return xml_error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
  end
  local jobs = srv.store
  local job = jobs:by_token(token)
  if not job or job.format ~= ext or jobs:status(job) ~= "completed" then
    return xml_error(404, "NoSuchKey", "The specified key does not exist.")
  end
  local q = http.parse_query(req.query)
  if q.Signature ~= job.signature or tonumber(q.Expires or "") ~= job.expires then
    return xml_error(403, "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided.")
  end
  if job.expires < os.time() then
    return xml_error(403, "AccessDenied", "Request has expired.")
  end
  local bytes = jobs:audio(job)
  local size = #bytes
  local resp = http.response(200, bytes, audio.CONTENT_TYPES[job.format])
  http.set_header(resp, "Accept-Ranges", "bytes")
  http.set_header(resp, "ETag", '"' .. job.token .. '"')
  local first, last
  if req.headers.range then first, last = range_of(req.headers.range, size) end
  if first and first >= size then
    local r = xml_error(416, "InvalidRange", "The requested range is not satisfiable.")
    http.set_header(r, "Content-Range", "bytes */" .. fmt_int(size))
    return r
  elseif first then
    resp.status = 206
    resp.body = bytes:sub(first + 1, last + 1)
    http.set_header(resp, "Content-Range", "bytes " .. fmt_int(first) .. "-" .. fmt_int(last) .. "/" .. fmt_int(size))
  end
  return resp
end

return M
