-- term.core for busted under LuaJIT for Windows: isatty over kernel32 through LuaJIT's FFI
-- (a console is a character device; a pipe or a file is not).
local ffi = require "ffi"

ffi.cdef [[
void *GetStdHandle(uint32_t which);
uint32_t GetFileType(void *h);
]]
local k32 = ffi.C
local STD = { [io.stdin] = -10, [io.stdout] = -11, [io.stderr] = -12 }
local FILE_TYPE_CHAR = 2

local M = {}

function M.isatty(file)
  local which = STD[file or io.stdout]
  if not which then return false end
  return k32.GetFileType(k32.GetStdHandle(which % 4294967296)) == FILE_TYPE_CHAR
end

return M
