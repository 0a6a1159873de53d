-- spec/support/child.lua: a child Lua process running spec/support/rel_child.lua, to crash
-- (SIGKILL) or starve (ulimit) while the test process watches.
--
--   local proc = require("support.child").start(pre, "generate", api_url, key, journal, out)
--   proc.until_line("status ")  proc.kill()  proc.finish()

local util = require "support.util"

local M = {}

--- Starts the child; `pre` is shell run before it (nil: none), the rest are its arguments.
function M.start(pre, ...)
  local root = util.repo_root()
  local args = {}
  for i = 1, select("#", ...) do args[i] = util.q((select(i, ...))) end
  local lua_path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. (os.getenv("LUA_PATH") or ";")
  local cmd = "echo $$; cd " .. util.q(root) .. " && " .. (pre or "") .. " exec env LUA_PATH=" .. util.q(lua_path)
    .. " " .. util.LUA .. " spec/support/rel_child.lua " .. table.concat(args, " ") .. " 2>&1"
  local p = assert(io.popen(cmd, "r"))
  local pid = assert(tonumber(p:read("*l")), "no pid from the child")
  local c = { pid = pid, lines = {} }
  -- Reads lines until one starts with prefix; returns it (nil at end of output).
  function c.until_line(prefix)
    while true do
      local line = p:read("*l")
      if not line then return nil end
      c.lines[#c.lines + 1] = line
      if line:sub(1, #prefix) == prefix then return line end
    end
  end
  function c.kill()
    os.execute("kill -9 " .. pid .. " 2>/dev/null")
    p:close()
  end
  function c.finish()
    local rest = p:read("*a")
    p:close()
    return table.concat(c.lines, "\n") .. "\n" .. rest
  end
  return c
end

return M
