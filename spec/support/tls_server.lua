-- spec/support/tls_server.lua: openssl s_server on 127.0.0.1 with a self-signed certificate
-- made for this run (cert.pem and key.pem in its directory). It stops by itself after 60 s.
--
--   local server = require("support.tls_server").start(dir, "-www")
--   "https://127.0.0.1:" .. server.port, ca_file = dir .. "/cert.pem"; server.stop()

local socket = require "socket"
local util = require "support.util"

local M = {}

--- Starts the server in dir and waits (10 s at most) until it accepts connections. mode:
-- "-www" answers every request with a status page; "-HTTP" serves dir's files as whole HTTP
-- responses. Returns {port, stop}.
function M.start(dir, mode)
  util.sh(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
    .. "-addext subjectAltName=IP:127.0.0.1 -keyout %s/key.pem -out %s/cert.pem"):format(util.q(dir), util.q(dir)), true)
  local port = util.free_port()
  local server = assert(io.popen(("cd %s && echo $$ && exec env -u LD_PRELOAD timeout 60 openssl s_server "
    .. "-quiet %s -accept 127.0.0.1:%d -cert cert.pem -key key.pem >/dev/null 2>&1"):format(util.q(dir), mode, port)))
  local pid = tonumber(server:read("*l"))
  local deadline = socket.gettime() + 10
  repeat
    local c = socket.connect("127.0.0.1", port)
    if c then c:close() break end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  local s = { port = port }
  function s.stop()
    -- timeout passes the signal on to s_server; close() then reaps them.
    if pid then os.execute("kill " .. pid) end
    server:close()
  end
  return s
end

return M
