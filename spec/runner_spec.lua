-- make test's runner (tools/specs.sh): spec files side by side, each in a busted of its own,
-- then every file's output in the order of the names and one total that counts a file which
-- never finished as failed. Run here on spec files of its own, in a directory of its own.

local util = require "support.util"

local q, read_file, write_file, execute = util.q, util.read_file, util.write_file, util.execute
local root = util.repo_root()

-- A busted spec file: describe(name) with the body given.
local function spec(name, body)
  return ("describe(%q, function()\n%s\nend)\n"):format(name, body)
end

-- Waits (up to 20 s) for the file another spec file writes: only files running side by side
-- both get past this.
local RENDEZVOUS = [[
  local function meet(mine, theirs)
    local f = assert(io.open(mine, "w")) f:close()
    for _ = 1, 400 do
      local g = io.open(theirs) if g then g:close() return true end
      os.execute("sleep 0.05")
    end
    return false
  end
]]

-- #posix: needs the host's busted: tools/specs.sh is make test's runner on Linux
describe("make test's runner (tools/specs.sh) #posix", function()
  local dir

  -- Runs the runner in dir with JOBS=jobs; returns ok and what it wrote.
  local function run(jobs)
    local log = dir .. "/out.log"
    local ok = execute("cd " .. q(dir) .. " && JOBS=" .. jobs .. " LUA_PATH=" .. q(root .. "/spec/?.lua;;")
      .. " " .. q(root .. "/tools/specs.sh") .. " " .. util.LUA .. " /usr/bin/busted >" .. q(log) .. " 2>&1")
    return ok, read_file(log) or ""
  end

  setup(function()
    dir = util.tmpdir()
    util.mkdir(dir .. "/spec/support")
    write_file(dir .. "/.busted", read_file(root .. "/.busted"))
    write_file(dir .. "/spec/support/summary.lua", read_file(root .. "/spec/support/summary.lua"))
    local marks = q(dir):sub(2, -2)
    write_file(dir .. "/spec/a_spec.lua", spec("a", RENDEZVOUS .. ([[
      it("runs beside b", function() assert.is_true(meet("%s/a.mark", "%s/b.mark")) end)
      it("passes twice", function() end)]]):format(marks, marks)))
    write_file(dir .. "/spec/b_spec.lua", spec("b", RENDEZVOUS .. ([[
      it("runs beside a", function() assert.is_true(meet("%s/b.mark", "%s/a.mark")) end)
      it("fails", function() assert.equal(1, 2) end)]]):format(marks, marks)))
    write_file(dir .. "/spec/c_spec.lua", "describe('c', function( -- not Lua\n")
    write_file(dir .. "/spec/d_spec.lua", spec("d", [[pending("is pending")]]))
  end)

  teardown(function()
    util.rm_rf(dir)
  end)

  it("runs files side by side and totals them; a file that fails or never runs fails the run", function()
    local ok, out = run(2)
    assert.is_false(ok, out)
    -- a: 2 passed; b: 1 passed, 1 failed; c: never got to its summary; d: 1 pending
    assert.matches("\n3 passed, 2 failed, 1 skipped\n$", out)
    local a, b, c, d = out:find("== spec/a_spec.lua", 1, true), out:find("== spec/b_spec.lua", 1, true),
      out:find("== spec/c_spec.lua", 1, true), out:find("== spec/d_spec.lua", 1, true)
    assert.truthy(a and b and c and d and a < b and b < c and c < d, out)
    -- the times of this run order the next one, longest first
    local times = read_file(dir .. "/build/spec-times")
    local n = 0
    for secs, file in times:gmatch("([%d%.]+) (%S+)\n") do
      n = n + 1
      assert.truthy(tonumber(secs) and file:match("^spec/[abcd]_spec%.lua$"), times)
    end
    assert.equal(4, n)
  end)

  it("passes when every file passes", function()
    os.remove(dir .. "/spec/b_spec.lua")
    os.remove(dir .. "/spec/c_spec.lua")
    write_file(dir .. "/spec/a_spec.lua", spec("a", [[it("passes", function() end)]]))
    local ok, out = run(1)
    assert(ok, out)
    assert.matches("\n1 passed, 0 failed, 1 skipped\n$", out)
  end)
end)
