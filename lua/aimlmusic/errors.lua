-- Errors made in Lua: the one error shape (built by the core, `core.error`), and the one way
-- misuse of the API raises.

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local core = require "aimlmusic.core"

local M = {}

-- An error of that kind and message, with the other fields of the shape given in fields.
function M.new(kind, message, fields)
  fields = fields or {}
  fields.kind, fields.message = kind, message
  return core.error(fields)
end

-- s up to its first NUL: as much of a string as an error's message (a C string) ever showed.
function M.cut_nul(s)
  local z = s:find("\0", 1, true)
  return z and s:sub(1, z - 1) or s
end

-- Raises at the caller of the public function fname when argument i is not what it expects.
function M.argcheck(cond, fname, i, expected, v)
  if not cond then
    error(("aimlmusic.%s: bad argument #%d (%s expected, got %s)"):format(fname, i, expected, type(v)), 3)
  end
end

return M
