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

-- Runs cmd in the host's /bin/sh with stdout to out (nil: /dev/null); returns its exit status.
local function run(cmd, out)
  local base = tmpname()
  local script, rc = base .. ".sh", base .. ".rc"
  local f = assert(io.open(script, "wb"))
  f:write("cd ", q(host_cwd()), " || exit 1\n", "(\n", cmd, "\n) </dev/null >", q(out or "/dev/null"),
    "\necho $? >", q(rc .. ".tmp"), "\nmv ", q(rc .. ".tmp"), " ", q(rc), "\n")
  f:close()
  local si = ffi.new("aimlmusic_startupinfo")
  si.cb = ffi.sizeof(si)
  local pi = ffi.new("aimlmusic_procinfo")
  local line = ffi.new("char[?]", #script + 16, "/bin/sh " .. script)
  assert(k32.CreateProcessA("Z:\\bin\\sh", line, nil, nil, 0, 0, nil, nil, si, pi) ~= 0,
    "posix_shell: CreateProcess of the host's /bin/sh failed")
  if pi.process ~= nil then k32.CloseHandle(pi.process) end
  if pi.thread ~= nil then k32.CloseHandle(pi.thread) end
  local wait = 1
  while not exists(rc) do
    k32.Sleep(wait)
    if wait < 20 then wait = wait + 1 end
  end
  local r = assert(io.open(rc, "rb"))
  local code = tonumber(r:read("*a"):match("%d+"))
  r:close()
  os.remove(rc)
  os.remove(script)
  return code
end

local Pipe = {}
Pipe.__index = Pipe
function Pipe:read(...) return self.f:read(...) end
function Pipe:lines(...) return self.f:lines(...) end
function Pipe:close()
  self.f:close()
  os.remove(self.path)
  return self.code == 0
end
function Pipe:setvbuf() return true end

-- io.popen(cmd, "r"): the command runs to its end first; then its output reads like a pipe.
-- Mode "w" (a process fed through stdin as it runs) has no stand-in: it raises.
io.popen = function(cmd, mode) -- luacheck: ignore 122
  assert(mode == nil or mode == "r", "posix_shell: io.popen(cmd, \"w\") is POSIX-only here")
  local path = tmpname() .. ".out"
  local code = run(cmd, path)
  local f = assert(io.open(path, "rb"))
  return setmetatable({ f = f, path = path, code = code }, Pipe)
end

-- os.execute as on Lua 5.1: the exit status as a number.
os.execute = function(cmd) -- luacheck: ignore 122
  if cmd == nil then return 1 end
  return run(cmd, nil)
end

os.tmpname = function() -- luacheck: ignore 122
  local path = tmpname()
  assert(io.open(path, "wb")):close()
  return path
end

math.randomseed(os.time() + math.floor(os.clock() * 1e6))
