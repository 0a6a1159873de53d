-- Under LuaJIT (LÖVE, Neovim) the library's Lua runs interpreted: its loops are short and
-- cross coroutine.resume, which traces cannot follow, so recording them only aborts and
-- retries, and every attempt lands in some music.step(0). A real LuaJIT runs 50 tasks to
-- the end with music.step(0) while the trace compiler reports every trace it starts.

local util = require "support.util"

local q, read_file, execute = util.q, util.read_file, util.execute

local SCRIPT = [[
local music = require "aimlmusic"
local funcinfo = require("jit.util").funcinfo
local traced = {}
jit.attach(function(what, _, func)
  if what ~= "start" then return end
  local src = funcinfo(func).source or "?"
  traced[src] = (traced[src] or 0) + 1
end, "trace")
for _ = 1, 50 do
  music.spawn(function()
    for _ = 1, 40 do coroutine.yield() end
  end)
end
local steps = 0
while music.step(0) > 0 do steps = steps + 1 end
-- the script's own hot loop: proof that the compiler is on and reports here
local sum = 0
for i = 1, 1000 do sum = sum + i end
jit.attach(function() end)
local out = { "return { steps = " .. steps .. ", sum = " .. sum .. ", traced = {" }
for src, n in pairs(traced) do out[#out + 1] = ("[%q] = %d,"):format(src, n) end
out[#out + 1] = "} }"
io.write(table.concat(out, "\n"))
]]

describe("under LuaJIT", function()
  local root, dir

  setup(function()
    root = util.repo_root()
    util.build_luajit(root, "this spec")
    dir = util.tmpdir(true)
  end)

  teardown(function()
    util.rm_rf(dir)
  end)

  it("music.step(0) runs tasks without the trace compiler entering the library", function()
    local script, out, log = dir .. "/trace.lua", dir .. "/out.lua", dir .. "/log"
    util.write_file(script, SCRIPT)
    local ok = execute(table.concat({
      "cd", q(dir), "&& env -u LD_PRELOAD",
      "LUA_PATH=" .. q(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;"),
      "LUA_CPATH=" .. q(root .. "/build/luajit/?.so;;"),
      "luajit", q(script), ">" .. q(out), "2>" .. q(log),
    }, " "))
    assert(ok, "luajit failed:\n" .. (read_file(log) or ""))
    local res = util.load_chunk(read_file(out), "=trace result")
    assert.is_true(res.steps >= 40, "only " .. res.steps .. " steps") -- 40 yields each
    assert.equal(500500, res.sum)
    local library, script_traces = {}, 0
    for src, n in pairs(res.traced) do
      if src:find("/lua/aimlmusic", 1, true) then library[#library + 1] = src .. ": " .. n end
      if src == "@" .. script then script_traces = script_traces + n end
    end
    assert.is_true(script_traces > 0, "the trace compiler reported nothing: is it on?")
    assert.same({}, library)
  end)
end)
