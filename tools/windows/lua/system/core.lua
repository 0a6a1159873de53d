-- system.core for busted under LuaJIT for Windows: gettime, monotime and sleep over kernel32
-- through LuaJIT's FFI (what lua-system's C module gives on other systems).
local ffi = require "ffi"

ffi.cdef [[
typedef struct { uint32_t low, high; } aimlmusic_filetime;
void GetSystemTimeAsFileTime(aimlmusic_filetime *ft);
int QueryPerformanceCounter(int64_t *count);
int QueryPerformanceFrequency(int64_t *freq);
void Sleep(uint32_t ms);
]]
local k32 = ffi.C

local M = {}

--- Seconds since 1970 (wall clock).
function M.gettime()
  local ft = ffi.new("aimlmusic_filetime")
  k32.GetSystemTimeAsFileTime(ft)
  return (ft.high * 4294967296 + ft.low) / 1e7 - 11644473600
end

local freq = ffi.new("int64_t[1]")
k32.QueryPerformanceFrequency(freq)
local hz = tonumber(freq[0])

--- Seconds on a monotonic clock.
function M.monotime()
  local c = ffi.new("int64_t[1]")
  k32.QueryPerformanceCounter(c)
  return tonumber(c[0]) / hz
end

--- Sleeps for s seconds.
function M.sleep(s)
  k32.Sleep(math.max(0, math.floor(s * 1000 + 0.5)))
end

return M
