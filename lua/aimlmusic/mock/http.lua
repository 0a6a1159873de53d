-- aimlmusic.mock.http: a small HTTP/1.1 server on luv, with nothing of music in it.
--
-- Listeners share one set of connections; each request is parsed (keep-alive, pipelining,
-- Content-Length bodies, Expect: 100-continue) and handed to the listener's handler, which
-- returns a response: {status, headers = {{name, value}, ...}, body}. A response may also ask
-- for a way of being sent that a test of a client needs (resp.mode):
--   close     drop the connection, after delay_ms (no answer)
--   truncate  declare the whole body, send half, close
--   slow      the body in ten pieces over slow_ms
--   trickle   the body trickle_bytes (16) every delay_ms (250), for at most 30 s
--   endless   a chunked body of 64 KiB chunks as fast as the client reads, up to 4 GiB
-- and resp.delay_ms delays the answer. A failing handler answers 500 and never stops the loop.
--
--   local srv = http.new{ uv = require("luv"), reject = function(status, message) ... end }
--   local tcp, port = srv:listen("127.0.0.1", 0, function(req, conn) return resp end)

local unpack = table.unpack or unpack

local M = {}

local MAX_HEAD = 64 * 1024
local MAX_BODY = 1024 * 1024

M.REASONS = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
  [206] = "Partial Content", [300] = "Multiple Choices", [301] = "Moved Permanently", [302] = "Found",
  [303] = "See Other", [304] = "Not Modified", [307] = "Temporary Redirect", [308] = "Permanent Redirect",
  [400] = "Bad Request", [401] = "Unauthorized", [402] = "Payment Required", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [408] = "Request Timeout", [409] = "Conflict",
  [410] = "Gone", [411] = "Length Required", [413] = "Payload Too Large",
  [416] = "Range Not Satisfiable", [422] = "Unprocessable Entity", [429] = "Too Many Requests",
  [431] = "Request Header Fields Too Large", [500] = "Internal Server Error",
  [501] = "Not Implemented", [502] = "Bad Gateway", [503] = "Service Unavailable",
  [504] = "Gateway Timeout", [505] = "HTTP Version Not Supported",
}

local function fmt_int(n)
  return string.format("%d", math.floor(n))
end

local function url_decode(s)
  s = s:gsub("%+", " ")
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- The fields of a query string (the first of a repeated name wins).
function M.parse_query(q)
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

--- A response with a body of one content type.
function M.response(status, body, content_type)
  return { status = status, headers = { { "Content-Type", content_type } }, body = body or "" }
end

--- Set a header of a response, replacing one of the same name.
function M.set_header(resp, name, value)
  local lname = name:lower()
  for _, h in ipairs(resp.headers) do
    if h[1]:lower() == lname then
      h[2] = value
      return
    end
  end
  resp.headers[#resp.headers + 1] = { name, value }
end

local function head_bytes(resp, keep_alive, content_length, server)
  local t = { string.format("HTTP/1.1 %d %s\r\n", resp.status, M.REASONS[resp.status] or "Unknown") }
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
  if not has["server"] and server then t[#t + 1] = "Server: " .. server .. "\r\n" end
  t[#t + 1] = "\r\n"
  return table.concat(t)
end

---------------------------------------------------------------------------
-- the server

local Server = {}
Server.__index = Server

--- A server on opts.uv (the luv module). opts.reject(status, message): the response to a
-- request that cannot be parsed; opts.on_error(msg): where a failing handler is reported;
-- opts.server: the Server header; opts.max_body: the largest request body (1 MiB).
function M.new(opts)
  return setmetatable({
    uv = opts.uv, reject = opts.reject, on_error = opts.on_error, server = opts.server,
    max_body = opts.max_body or MAX_BODY, conns = {}, next_conn = 0, closed = false, listeners = {},
  }, Server)
end

function Server:_ms()
  return self.uv.hrtime() / 1e6
end

function Server:_report(msg)
  local ok = pcall(self.on_error, msg)
  if not ok then io.stderr:write("aimlmusic mock: " .. tostring(msg) .. "\n") end
end

-- Run fn(...) protected: a bug in a handler must never take down the loop.
function Server:_guard(fn, ...)
  local args, n = { ... }, select("#", ...)
  local ok, err = xpcall(function() return fn(unpack(args, 1, n)) end, debug.traceback)
  if not ok then self:_report(err) end
  return ok
end

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
  if resp.mode == "close" then
    local function drop() self:_close_conn(conn, false) end
    if (resp.delay_ms or 0) > 0 then self:_after(conn, resp.delay_ms, drop) else drop() end
    return
  end
  local keep = req.keep_alive and not resp.close and not self.closed
  for _, h in ipairs(resp.headers) do
    if tostring(h[1]):lower() == "connection" and has_token(tostring(h[2]), "close") then keep = false end
  end
  local body = resp.body or ""
  local declared = #body
  if resp.mode == "truncate" and declared == 0 then declared = 100 end
  local head = head_bytes(resp, keep, declared, self.server)
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

-- Faults that never finish a body on their own. trickle: the body, trickle_bytes (16) every
-- delay_ms (default 250), for at most 30 s. endless: a chunked body of 64 KiB chunks as fast as the
-- client reads, up to 4 GiB. Both stop when the client goes away.
local TRICKLE_BYTES, TRICKLE_MAX_MS = 16, 30000
local ENDLESS_CHUNK, ENDLESS_MAX = 64 * 1024, 4 * 1024 * 1024 * 1024

function Server:_stream(conn, req, resp, keep)
  local body = resp.body or ""
  if resp.mode == "trickle" then
    local step, size = resp.delay_ms or 250, resp.trickle_bytes or TRICKLE_BYTES
    local pos, started = 1, self:_ms()
    conn_write(conn, head_bytes(resp, keep, #body, self.server))
    local function next_piece()
      if self:_ms() - started > TRICKLE_MAX_MS then return self:_close_conn(conn, false) end
      conn_write(conn, body:sub(pos, pos + size - 1))
      pos = pos + size
      if pos > #body then return self:_finish(conn, keep) end
      self:_after(conn, step, next_piece)
    end
    self:_after(conn, step, next_piece)
    return
  end
  M.set_header(resp, "Transfer-Encoding", "chunked")
  local head = head_bytes(resp, false, 0, self.server):gsub("Content%-Length: %d+\r\n", "")
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

local HEADER_LINE = "^([!#$%%&'*+%-.^_`|~%w]+):[ \t]*(.-)[ \t]*$"

-- Parse one request out of conn.buf. Returns req, or nil (need more bytes),
-- or false, status, message (malformed).
local function parse_request(conn, max_body)
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
      if clen > max_body then return false, 413, "request body too large" end
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
      local req, status, message = parse_request(conn, self.max_body)
      if req == false then
        conn.busy = true
        -- answer what cannot be parsed, then close the connection
        self:_send(conn, { method = "GET", keep_alive = false }, self.reject(status, message))
        return
      end
      if not req then break end
      conn.busy = true
      self:_send(conn, req, conn.handler(req, conn))
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


function Server:_accept(listener, handler)
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
    id = self.next_conn, handler = handler, tcp = tcp, buf = "", busy = false, closed = false, timers = {},
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

--- Listen on host:port; handler(req, conn) answers each request (conn.id numbers the
-- connections of the server). Returns the listener and its port, or nil, err.
function Server:listen(host, port, handler)
  local uv = self.uv
  local tcp = uv.new_tcp()
  local ok, err = tcp:bind(host, port)
  if ok then
    ok, err = tcp:listen(128, function(lerr)
      if lerr then return end
      self:_guard(self._accept, self, tcp, handler)
    end)
  end
  if not ok then
    tcp:close()
    return nil, "cannot listen on " .. host .. ":" .. tostring(port) .. ": " .. tostring(err)
  end
  self.listeners[#self.listeners + 1] = tcp
  local name = tcp:getsockname()
  return tcp, name.port
end

--- Keep the process alive when a client hangs up mid-body (SIGPIPE ignored while open).
function Server:ignore_sigpipe()
  local uv = self.uv
  if not uv.new_signal then return end
  local sig = uv.new_signal()
  if sig and pcall(sig.start, sig, "sigpipe", function() end) then
    self.sigpipe = sig
    if sig.unref then sig:unref() end
  elseif sig then
    sig:close()
  end
end

--- Close the listeners and every connection.
function Server:close()
  if self.closed then return end
  self.closed = true
  for _, h in ipairs(self.listeners) do
    if not h:is_closing() then h:close() end
  end
  if self.sigpipe and not self.sigpipe:is_closing() then self.sigpipe:close() end
  for conn in pairs(self.conns) do self:_close_conn(conn, false) end
end

return M
