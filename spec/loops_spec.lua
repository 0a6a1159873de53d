-- The README's recipes for other event loops (examples/loops), each run as a process against
-- the mock: a plain poll loop (LuaSocket's select) on the runtime under test; Copas and GLib
-- (lgi) on LuaJIT, where Debian builds both (its module is built by `make build LUA=luajit`).

local mockctl = require "support.mockctl"
local util = require "support.util"

local q, execute, read_file = util.q, util.execute, util.read_file

describe("examples/loops", function()
  local mock, root, dir

  setup(function()
    mock = mockctl.start()
    root = util.repo_root()
    util.build_luajit(root, "the Copas and GLib recipes run on LuaJIT, which")
    dir = util.tmpdir()
  end)

  teardown(function()
    util.rm_rf(dir)
  end)

  local function run(recipe, lua)
    mock:reset()
    mock:config { duration = 0.3 }
    local build = lua == "luajit" and "luajit" or (os.getenv("AIMLMUSIC_TEST_LUA") or "lua5.4")
    local out, log = dir .. "/" .. recipe .. "-" .. lua .. ".mp3", dir .. "/" .. recipe .. ".log"
    local cmd = table.concat({
      "cd", q(root), "&&", "env -u LD_PRELOAD",
      "LUA_PATH=" .. q(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;"),
      "LUA_CPATH=" .. q(root .. "/build/" .. build .. "/?.so;;"),
      "AIMLAPI_BASE_URL=" .. q(mock.api_url), "AIMLAPI_KEY=" .. q(mock.key), "AIMLMUSIC_POLL_INTERVAL=0.1",
      "timeout -k 5 30", lua, q("examples/loops/" .. recipe .. ".lua"), q(out), ">" .. q(log), "2>&1",
    }, " ")
    local ok = execute(cmd)
    local text = read_file(log) or ""
    assert.is_true(ok, recipe .. " failed:\n" .. text)
    assert.equal("saved " .. out, (text:gsub("%s+$", "")))
    local audio = assert(read_file(out))
    assert.is_true(#audio > 100)
    -- One job: one submit, then status polls, then one download.
    local reqs = mock:requests()
    assert.equal(1, #util.select_reqs(reqs, "api", "POST"))
  end

  -- #posix: needs music.pollfd (epoll or kqueue)
  it("a plain poll loop (LuaSocket select on music.pollfd) generates a track #posix", function()
    run("poll", os.getenv("AIMLMUSIC_TEST_LUA") or "lua5.4")
  end)

  it("Copas generates a track", function()
    run("copas", "luajit")
  end)

  it("GLib's main loop (lgi) generates a track", function()
    run("glib", "luajit")
  end)
end)
