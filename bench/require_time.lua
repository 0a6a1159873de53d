-- The time `require "aimlmusic"` takes in a fresh interpreter: wall (LuaSocket's clock, loaded
-- first) and CPU (os.clock). Prints "require_ms WALL cpu_ms CPU".
local gettime = require("socket").gettime

local c0, w0 = os.clock(), gettime()
require "aimlmusic"
local w1, c1 = gettime(), os.clock()
print(("require_ms %.3f cpu_ms %.3f"):format((w1 - w0) * 1e3, (c1 - c0) * 1e3))
