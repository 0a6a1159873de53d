-- spec/support/peers.lua: real servers on 127.0.0.1 for the connection specs, each in a
-- temporary directory and stopped by the spec (or by itself after 60 s):
--   ca(dir)                 a test CA and a certificate for 127.0.0.1 signed by it (openssl)
--   nginx(dir)              nginx over TLS, HTTP/1.1 and HTTP/2 (ALPN), answering like the API;
--                           its log says which connection carried each request
--   badpeer(dir, proto, mode, bad_at)   the scripted server of spec/support/badpeer.py
--
--   local peers = require "support.peers"
--   local ca = peers.ca(dir); local srv = peers.nginx(dir); ... srv.connections(); srv.stop()

local socket = require "socket"
local util = require "support.util"

local M = {}

local PYTHON = "/usr/bin/python3" -- Debian's, with python3-h2

local function openssl(args)
  local out = util.sh("env -u LD_PRELOAD openssl " .. args, true)
  return out
end

--- Makes dir/ca.pem (a CA), dir/cert.pem and dir/key.pem (127.0.0.1, signed by the CA).
-- Returns {ca = path, cert = path, key = path}.
function M.ca(dir)
  local d = util.q(dir)
  openssl(("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
    .. "-subj /CN=aimlmusic-test-ca -keyout %s/ca.key -out %s/ca.pem"):format(d, d))
  openssl(("req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 "
    .. "-keyout %s/key.pem -out %s/cert.csr"):format(d, d))
  util.write_file(dir .. "/ext.cnf", "subjectAltName=IP:127.0.0.1\n")
  openssl(("x509 -req -in %s/cert.csr -CA %s/ca.pem -CAkey %s/ca.key -CAcreateserial -days 1 "
    .. "-extfile %s/ext.cnf -out %s/cert.pem"):format(d, d, d, d, d))
  assert(util.read_file(dir .. "/cert.pem"), "openssl made no certificate")
  return { ca = dir .. "/ca.pem", cert = dir .. "/cert.pem", key = dir .. "/key.pem" }
end

local function wait_port(port)
  local deadline = socket.gettime() + 10
  repeat
    local c = socket.connect("127.0.0.1", port)
    if c then c:close() return true end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return false
end

local function lines(path)
  local out = {}
  for l in (util.read_file(path) or ""):gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

local NGINX_CONF = [[
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fastcgi;
  uwsgi_temp_path %s/uwsgi;
  scgi_temp_path %s/scgi;
  log_format conn '$connection $server_protocol $request_method';
  keepalive_requests 100000;
  keepalive_timeout %s;
  server {
    listen 127.0.0.1:%d ssl%s;
    %s
    ssl_certificate %s/../cert.pem;
    ssl_certificate_key %s/../key.pem;
    ssl_protocols TLSv1.3;
    access_log %s/access.log conn;
    # Through a proxy, which reads each request whole before it is answered, as the service
    # does: nginx answering a POST from a location of its own resets the stream of a body
    # still on its way (HTTP/2).
    location / {
      proxy_pass http://127.0.0.1:%d;
      proxy_set_header X-Conn $connection-$connection_requests;
    }
  }
  server {
    listen 127.0.0.1:%d;
    default_type application/json;
    location = /v2/generate/audio {
      if ($request_method = POST) {
        return 200 '{"id":"job-$http_x_conn:minimax/music-2.0","status":"queued"}';
      }
      return 200 '{"id":"$arg_generation_id","status":"generating"}';
    }
  }
}
]]

--- nginx over TLS 1.3 on a free port, with dir's cert.pem and key.pem (M.ca): HTTP/2 offered
-- when h2 is true, else HTTP/1.1 only; close: a connection per request. Returns
-- {port, url, requests(want), connections(want), stop()}: requests() the lines "connection
-- protocol method" of its log (waiting until want are there), connections() how many distinct
-- connections carried them.
local runs = 0
function M.nginx(dir, h2, close)
  local port = util.free_port()
  runs = runs + 1
  dir = util.mkdir(("%s/nginx-%d"):format(dir, runs))
  local d = dir
  -- nginx 1.22 (Debian 12) spells HTTP/2 on the listen line.
  local inner = util.free_port()
  local conf = NGINX_CONF:format(d, d, d, d, d, d, d, close and "0" or "75s", port, h2 and " http2" or "", "", d, d, d,
    inner, inner)
  util.write_file(dir .. "/nginx.conf", conf)
  local server = assert(io.popen(("exec env -u LD_PRELOAD timeout 60 nginx -e %s/error.log -p %s -c %s/nginx.conf "
    .. "-g 'daemon off;' >/dev/null 2>&1 & echo $!"):format(util.q(d), util.q(d), util.q(d))))
  local pid = tonumber(server:read("*l"))
  server:close()
  assert(wait_port(port), "nginx did not start: " .. (util.read_file(dir .. "/error.log") or ""))
  local s = { port = port, url = "https://127.0.0.1:" .. port }
  -- nginx logs a request once it is done with it, a moment after the client has the answer:
  -- with want, wait (10 s at most) until that many are logged.
  function s.requests(want)
    local deadline = socket.gettime() + 10
    local got = lines(dir .. "/access.log")
    while want and #got < want and socket.gettime() < deadline do
      socket.sleep(0.02)
      got = lines(dir .. "/access.log")
    end
    return got
  end
  function s.connections(want)
    local seen, n = {}, 0
    for _, l in ipairs(s.requests(want)) do
      local c = l:match("^(%d+)")
      if c and not seen[c] then seen[c], n = true, n + 1 end
    end
    return n
  end
  function s.stop()
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    pid = nil
  end
  return s
end

--- The scripted server (badpeer.py) speaking proto ("h1": plain HTTP/1.1, "h2": HTTP/2 over
-- TLS with dir's certificate), misbehaving in mode on POST number bad_at. Returns {port,
-- url, accepts(), posts(), stop()}.
function M.badpeer(dir, proto, mode, bad_at)
  local log = dir .. "/peer-" .. proto .. "-" .. mode .. ".log"
  os.remove(log)
  local script = util.repo_root() .. "/spec/support/badpeer.py"
  local p = assert(io.popen(("exec env -u LD_PRELOAD %s %s %s %s %d %s %s %s >/dev/null 2>&1 & echo $!"):format(PYTHON,
    util.q(script), proto, mode, bad_at or 0, util.q(log), util.q(dir .. "/cert.pem"), util.q(dir .. "/key.pem"))))
  local pid = tonumber(p:read("*l"))
  p:close()
  local port
  local deadline = socket.gettime() + 10
  repeat
    port = tonumber(((util.read_file(log) or ""):match("port (%d+)")))
    if not port then socket.sleep(0.05) end
  until port or socket.gettime() > deadline
  assert(port, "badpeer did not start")
  local s = { port = port, url = (proto == "h2" and "https" or "http") .. "://127.0.0.1:" .. port }
  local function count(what)
    local n = 0
    for _, l in ipairs(lines(log)) do if l == what then n = n + 1 end end
    return n
  end
  function s.accepts() return count("accept") end
  function s.posts() return count("post") end
  function s.stop()
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    pid = nil
  end
  return s
end

return M
