-- spec/support/util.lua: the small helpers the specs share (files, shell, HTTP, the mock's
-- request log, temporary directories). Portable to Lua 5.1 to 5.4 and LuaJIT.
--
--   local util = require "support.util"

local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"

local M = {}

--- The Lua interpreter the specs run on (AIMLMUSIC_TEST_LUA, set by the Makefile).
M.LUA = os.getenv("AIMLMUSIC_TEST_LUA") or "lua5.4"

--- s quoted for a POSIX shell, between single quotes.
function M.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- os.execute's result on every Lua version: true when cmd exited with status 0, then the code.
function M.execute(cmd)
  local a, _, code = os.execute(cmd)
  if type(a) == "number" then return a == 0, a end
  return a == true, code
end

--- Runs cmd in the shell and returns all it wrote to stdout (and stderr too when with_stderr).
function M.sh(cmd, with_stderr)
  local p = assert(io.popen(with_stderr and cmd .. " 2>&1" or cmd))
  local out = p:read("*a")
  p:close()
  return out
end

--- The whole content of the file at path, or nil when it cannot be opened.
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Writes s to the file at path, replacing it; raises on failure.
function M.write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

--- The names in dir (ls -A: no . and ..), sorted; {} when dir does not exist.
function M.ls(dir)
  local out = {}
  for line in M.sh("ls -A " .. M.q(dir) .. " 2>/dev/null"):gmatch("[^\n]+") do out[#out + 1] = line end
  table.sort(out)
  return out
end

--- Creates path and its parents (mkdir -p), raising on failure; returns path.
function M.mkdir(path)
  assert(M.execute("mkdir -p " .. M.q(path)), "mkdir -p " .. path .. " failed")
  return path
end

--- A new empty directory in the system's temporary folder (mode 700 when private); returns its path.
function M.tmpdir(private)
  local dir = os.tmpname()
  os.remove(dir)
  M.mkdir(dir)
  if private then assert(M.execute("chmod 700 " .. M.q(dir)), "chmod 700 " .. dir .. " failed") end
  return dir
end

--- Removes path and all below it (rm -rf); does nothing when path is nil.
function M.rm_rf(path)
  if path then M.execute("rm -rf " .. M.q(path)) end
end

--- The checkout's absolute path, found from where this file lies (spec/support/util.lua).
function M.repo_root()
  local src = debug.getinfo(1, "S").source or ""
  local dir = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)[/\\]spec[/\\]support[/\\][^/\\]*$") or nil
  if not dir or dir == "" then dir = "." end
  return (M.sh("cd " .. M.q(dir) .. " && pwd"):gsub("%s+$", ""))
end

local plain_cpaths = {}

--- The LUA_CPATH of the plain build of the core for the interpreter command lua: for a child
-- process that runs no sanitizer runtime (LD_PRELOAD unset), never the sanitizers' builds the
-- specs may run with (such a build aborts where its runtime is not preloaded).
function M.plain_cpath(lua)
  if not plain_cpaths[lua] then
    local probe = [[ -e "io.write(rawget(_G, 'jit') and 'luajit' or 'lua' .. _VERSION:match('%d+%.%d+'))"]]
    local p = assert(io.popen(lua .. probe))
    local runtime = p:read("*a")
    p:close()
    plain_cpaths[lua] = M.repo_root() .. "/build/" .. runtime .. "/?.so;;"
  end
  return plain_cpaths[lua]
end

--- Builds build/luajit/aimlmusic/core.so when missing or stale, outside of the calling make; who embeds LuaJIT.
function M.build_luajit(root, who)
  local log = os.tmpname()
  local ok = M.execute("cd " .. M.q(root) .. " && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u LD_PRELOAD"
    .. " make --no-print-directory build LUA=luajit >" .. M.q(log) .. " 2>&1")
  local out = M.read_file(log) or ""
  os.remove(log)
  assert(ok, "make build LUA=luajit failed (" .. who .. " embeds LuaJIT and needs this build):\n" .. out)
end

--- Runs the Lua chunk s (named name) and returns what it returns; raises on a syntax error.
function M.load_chunk(s, name)
  local fn, err = (loadstring or load)(s, name) -- luacheck: ignore 113 (Lua 5.1)
  assert(fn, err)
  return fn()
end

--- Bytes served at url, fetched with LuaSocket: an independent view of what the CDN sends.
function M.fetch(url)
  local chunks = {}
  local ok, code = http.request { url = url, sink = ltn12.sink.table(chunks) }
  assert(ok and code == 200, "fetch " .. url .. ": " .. tostring(code))
  return table.concat(chunks)
end

--- A TCP port on 127.0.0.1 that nothing listened on a moment ago.
function M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

--- The entries of the mock's request log with that host and method (nil: any), in order.
function M.select_reqs(reqs, host, method)
  local out = {}
  for _, r in ipairs(reqs) do
    if (not host or r.host == host) and (not method or r.method == method) then out[#out + 1] = r end
  end
  return out
end

--- The keys of t, sorted.
function M.keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

-- A valid music-2.0 request that the specs share; copy it with M.with before changing it.
M.PARAMS = {
  model = "minimax/music-2.0",
  prompt = "A calm and soothing instrumental with gentle piano and soft strings.",
  lyrics = "[Verse]\nStreetlights flicker, the night breeze sighs\n[Chorus]\nIn this small cafe, I find my way",
}

--- A shallow copy of t with the fields of extra (when given) set on it.
function M.with(t, extra)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

--- The records of the journal at path that parse, in order (a torn line is passed over).
function M.journal_records(path)
  local json = require("cjson").new()
  local out = {}
  for line in (M.read_file(path) or ""):gmatch("[^\n]+") do
    local ok, rec = pcall(json.decode, line)
    if ok then out[#out + 1] = rec end
  end
  return out
end

--- Runs the shell lines of cmds side by side (builds that share nothing take the time of the
-- longest, not the sum), each in its own sh in dir, outside the calling make and without the
-- sanitizer make asan preloads; returns a list of {ok, out} (the exit status, all each wrote),
-- in the order of cmds.
function M.run_each(dir, cmds)
  local logs, jobs = {}, {}
  for i, cmd in ipairs(cmds) do
    logs[i] = os.tmpname()
    jobs[i] = "(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u LD_PRELOAD sh -c " .. M.q(cmd) .. " >" .. M.q(logs[i])
      .. " 2>&1; echo $? >" .. M.q(logs[i] .. ".rc") .. ") &"
  end
  M.execute("cd " .. M.q(dir) .. " && " .. table.concat(jobs, "\n") .. "\nwait")
  local results = {}
  for i, log in ipairs(logs) do
    local rc = (M.read_file(log .. ".rc") or ""):match("%d+")
    results[i] = { ok = rc == "0", out = (M.read_file(log) or "") .. (rc and "" or "\n(no exit status)") }
    os.remove(log)
    os.remove(log .. ".rc")
  end
  return results
end

return M
