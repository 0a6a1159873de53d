-- The specs' shell under wine: busted's --helper for `make windows-test`. The specs drive their
-- tools (mkdir, rm, the command line as a process) through io.popen and os.execute with POSIX
-- shell commands; under LuaJIT for Windows those would go to cmd.exe. This helper runs them in
-- the Linux host's /bin/sh instead (wine starts a Linux program given to CreateProcess), from
-- the same directory, and waits for the exit status through a file. The library and the
-- command line under test still run as Windows programs: a command that starts the command
-- line starts it through AIMLMUSIC_TEST_LUA, luajit.exe under wine. os.tmpname gives a path
-- under the host's /tmp, which Windows programs reach through the drive of the current
-- directory (Z:, the host's root).
local ffi = require "ffi"

ffi.cdef [[
typedef struct {
  uint32_t cb; void *reserved; void *desktop; void *title;
  uint32_t x, y, xsize, ysize, xcount, ycount, fill, flags;
  uint16_t show, reserved2; void *reserved3; void *in, *out, *err;
} aimlmusic_startupinfo;
typedef struct { void *process, *thread; uint32_t pid, tid; } aimlmusic_procinfo;
int CreateProcessA(const char *app, char *cmdline, void *pa, void *ta, int inherit, uint32_t flags,
  void *env, const char *cwd, aimlmusic_startupinfo *si, aimlmusic_procinfo *pi);
int CloseHandle(void *h);
void Sleep(uint32_t ms);
uint32_t GetCurrentDirectoryA(uint32_t n, char *buf);
]]
local k32 = ffi.C

-- The host's path of the current directory (Z:\work\x -> /work/x).
local function host_cwd()
  local buf = ffi.new("char[?]", 4096)
  local n = k32.GetCurrentDirectoryA(4096, buf)
  local dir = ffi.string(buf, n):gsub("\\", "/")
  local rest = dir:match("^[Zz]:(.*)$")
  assert(rest, "posix_shell: the current directory must be on Z: (the host's root), not " .. dir)
  return rest == "" and "/" or rest
end

local counter = 0
local function tmpname()
  counter = counter + 1
  return string.format("/tmp/aimlmusic-win-%d-%d-%d", os.time(), math.random(1e9), counter)
end

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Starts cmd in the host's /bin/sh (stdin from stdin_path, else /dev/null; stdout to out, else
-- /dev/null); returns the path of the file that will hold its exit status when it ends.
local function start(cmd, out, stdin_path)
  local base = tmpname()
  local script, body, rc = base .. ".sh", base .. ".cmd", base .. ".rc"
  local f = assert(io.open(body, "wb"))
  f:write(cmd, "\n")
  f:close()
  f = assert(io.open(script, "wb"))
  f:write("cd ", q(host_cwd()), " || exit 1\n", "sh ", q(body), " <", q(stdin_path or "/dev/null"), " >",
    q(out or "/dev/null"), "\necho $? >", q(rc .. ".tmp"), "\nmv ", q(rc .. ".tmp"), " ", q(rc), "\nrm -f ",
    q(script), " ", q(body), "\n")
  f:close()
  local si = ffi.new("aimlmusic_startupinfo")
  si.cb = ffi.sizeof(si)
  local pi = ffi.new("aimlmusic_procinfo")
  local line = ffi.new("char[?]", #script + 16, "/bin/sh " .. script)
  assert(k32.CreateProcessA("Z:\\bin\\sh", line, nil, nil, 0, 0, nil, nil, si, pi) ~= 0,
    "posix_shell: CreateProcess of the host's /bin/sh failed")
  if pi.process ~= nil then k32.CloseHandle(pi.process) end
  if pi.thread ~= nil then k32.CloseHandle(pi.thread) end
  return rc
end

-- Waits until the command whose status file is rc has ended; returns its exit status.
local function finish(rc)
  local wait = 1
  while not exists(rc) do
    k32.Sleep(wait)
    if wait < 20 then wait = wait + 1 end
  end
  local r = assert(io.open(rc, "rb"))
  local code = tonumber(r:read("*a"):match("%d+"))
  r:close()
  os.remove(rc)
  return code
end

-- A pipe from a running command: its output file read as it grows; close waits for its end.
local Pipe = {}
Pipe.__index = Pipe

function Pipe:ended()
  if self.code == nil and exists(self.rc) then self.code = finish(self.rc) end
  return self.code ~= nil
end

function Pipe:read(fmt)
  fmt = fmt or "*l"
  while true do
    local ended = self:ended()
    local pos = self.f:seek()
    local rest = self.f:read("*a") or ""
    self.f:seek("set", pos)
    if fmt == "*a" or fmt == "a" then
      if ended then return self.f:read("*a") end
    elseif rest:find("\n", 1, true) or (ended and rest ~= "") then
      return self.f:read(fmt)
    elseif ended then
      return nil
    end
    k32.Sleep(5)
  end
end

function Pipe:lines()
  return function() return self:read("*l") end
end

function Pipe:close()
  if self.code == nil then self.code = finish(self.rc) end
  self.f:close()
  os.remove(self.path)
  return self.code == 0
end

-- A pipe into a running command: what is written goes to its stdin as it runs (tail follows a
-- file into it until close() ends the sleep that tail watches; the command then reads its end).
local Feed = {}
Feed.__index = Feed
function Feed:write(...)
  local f = assert(io.open(self.input, "ab"))
  f:write(...)
  f:close()
  return self
end
function Feed:flush() return self end
function Feed:close()
  while not exists(self.pidfile) do k32.Sleep(2) end
  os.execute("kill $(cat " .. q(self.pidfile) .. ") 2>/dev/null")
  local code = finish(self.rc)
  os.remove(self.pidfile)
  os.remove(self.input)
  return code == 0
end

io.popen = function(cmd, mode) -- luacheck: ignore 122
  if mode == "w" then
    local base = tmpname()
    local feed = setmetatable({ input = base .. ".in", pidfile = base .. ".pid" }, Feed)
    assert(io.open(feed.input, "wb")):close()
    feed.rc = start("sleep 3600 & echo $! >" .. q(feed.pidfile) .. ".tmp; mv " .. q(feed.pidfile) .. ".tmp "
      .. q(feed.pidfile) .. "\ntail -s 0.1 -c +1 -f --pid=$! " .. q(feed.input) .. " | (\n" .. cmd .. "\n)", nil, nil)
    return feed
  end
  assert(mode == nil or mode == "r", "posix_shell: io.popen mode " .. tostring(mode))
  local path = tmpname() .. ".out"
  assert(io.open(path, "wb")):close()
  local rc = start(cmd, path, nil)
  local f = assert(io.open(path, "rb"))
  return setmetatable({ f = f, path = path, rc = rc }, Pipe)
end

-- os.execute as on Lua 5.1: the exit status as a number.
os.execute = function(cmd) -- luacheck: ignore 122
  if cmd == nil then return 1 end
  return finish(start(cmd, nil, nil))
end

os.tmpname = function() -- luacheck: ignore 122
  local path = tmpname()
  assert(io.open(path, "wb")):close()
  return path
end

math.randomseed(os.time() + math.floor(os.clock() * 1e6))
