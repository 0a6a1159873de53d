-- aimlmusic.mock.cli: the command line of the mock server (bin/aimlmusic-mock, `aimlmusic
-- mock`): options, the port file, and when to exit (a signal, --max-lifetime, the parent
-- gone, end of stdin).

local M = {}

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
headers, body | json, delay_ms, action = close|garbage|truncate|slow|trickle|endless,
chunk_bytes (trickle), echo_key, job_error, fifo (a FIFO made at that local path)},
POST /_mock/finish {id} (that job ends now), GET /_mock/requests, GET /_mock/jobs,
GET /_mock/faults, GET /_mock/config.
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

--- The command-line entry: start(opts) starts the server (aimlmusic.mock.start). Returns the
-- process exit code.
function M.main(argv, start)
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
    local how = package.config:sub(1, 1) == "\\"
      -- the Windows zip carries no luv, and apt is no word for Windows
      and "  the Windows zip has none: run the mock on a machine with luv (luarocks install luv)\n"
        .. "  and set AIMLAPI_BASE_URL to the api URL it prints\n"
      or "  luarocks install luv    (Debian/Ubuntu: apt install lua-luv)\n"
    io.stderr:write("aimlmusic-mock: the mock server runs on luv (libuv for Lua), which is not installed:\n" .. how)
    return 1
  end
  seed_random(uv)
  local srv, err = start(o)
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
  if uv.guess_handle(1) == "tty" then
    -- one at a terminal: what to paste into another one (a pipe gets the one line above only)
    io.stdout:write(string.format("in another terminal: export AIMLAPI_BASE_URL=%s AIMLAPI_KEY=%s\n"
      .. "then aimlmusic generate ... runs against this mock; Ctrl-C stops it\n", srv.api_url, o.key or "test-key"))
  end
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
