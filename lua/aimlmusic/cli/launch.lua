-- aimlmusic.cli.launch: the first thing bin/aimlmusic and bin/aimlmusic-mock do. The first `lua`
-- on PATH need not be the one the core was built for (Debian's `lua` is 5.1, make builds for
-- 5.4): without a core for this interpreter, the script runs again with one that has a core in
-- the checkout's build/, or says how to build one, in one line rather than a traceback.

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function found(cmd)
  local ok = os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

--- Returns when aimlmusic.core loads; otherwise ends the process with the exit code of the
--- script run again (name: the command, for the message; script, dir: arg[0] and its
--- directory; runtime: this interpreter's build directory, "lua5.4" or "luajit").
return function(name, script, dir, runtime)
  if pcall(require, "aimlmusic.core") then return end
  for _, lua in ipairs({ "lua5.4", "lua5.3", "lua5.2", "lua5.1", "luajit" }) do
    local f = lua ~= runtime and io.open(dir .. "/../build/" .. lua .. "/aimlmusic/core.so", "rb")
    if f then
      f:close()
      if found(lua) then
        local words = { lua, quote(script) }
        for i = 1, #arg do words[#words + 1] = quote(arg[i]) end
        local a, how, c = os.execute(table.concat(words, " "))
        if type(a) == "number" then -- Lua 5.1: the wait status (a signal in its low 7 bits)
          c = a >= 256 and math.floor(a / 256) or a > 0 and 128 + a % 128 or 0
        elseif how == "signal" then -- Ctrl-C: 130, as the shell says of a process it stopped
          c = 128 + c
        end
        os.exit(c or 1)
      end
    end
  end
  io.stderr:write(name, ": no aimlmusic.core built for ", runtime, ": run make (or make build LUA=",
    runtime, ") in the checkout, or install the rock\n")
  os.exit(1)
end
