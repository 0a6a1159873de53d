-- The bytes the engine counts as waiting for the disk (past a bound it admits no new download)
-- all come off again however a download ends: completed, cut and resumed, or cancelled while
-- its bytes come. A count left over would hold every later download back. And however slow the
-- disk, what waits for it stays near its bound, not a full spool per running download.

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local fixture = require "support.fixture"
local util = require "support.util"

local env = fixture.mock_client { duration = 0.1 }

describe("the engine's disk backlog", function()
  it("is back to zero after downloads complete, are cut and resumed, or are cancelled", function()
    local st = env.completed()
    local engine = core.engine()
    local ok = 0
    env.mock:fault { host = "cdn", action = "truncate" }
    for i = 1, 6 do
      music.spawn(function()
        assert(env.client:download(st, env.dir .. "/backlog" .. i .. ".wav"))
        ok = ok + 1
      end)
    end
    music.run()
    assert.equal(6, ok)
    assert.equal(0, engine:backlog())

    env.mock:fault { host = "cdn", action = "slow", delay_ms = 3000 }
    local started = false
    local task = music.spawn(function()
      return env.client:download(st, env.dir .. "/backlog-cancelled.wav", {
        on_progress = function(done) started = started or done > 0 end,
      })
    end)
    local t0 = core.now()
    while not started and not task:done() and core.now() - t0 < 30 do music.step(20) end
    assert.is_true(started, "no byte came")
    -- More bytes come in behind the first (which go to the disk at once) and wait there.
    t0 = core.now()
    while engine:backlog() == 0 and not task:done() and core.now() - t0 < 30 do music.step(20) end
    assert.is_true(engine:backlog() > 0, "no bytes waiting")
    task:cancel()
    music.run()
    assert.equal(0, engine:backlog())
  end)

  -- A process of its own: the shim (bench/slow_fsync.c, preloaded) makes every write to a
  -- regular file 3 ms slower, so downloads from loopback fill their spools at once.
  it("stays under 4 MiB and a read per running download when the disk is slow", function()
    local so = env.dir .. "/slow_fsync.so"
    -- (not with the sanitizer runtime that make asan preloads: cc is not built for it)
    assert(util.execute("env -u LD_PRELOAD cc -O2 -shared -fPIC -o " .. util.q(so) .. " bench/slow_fsync.c -ldl"))
    env.mock:config { audio_seconds = 8 } -- 689 KiB: more than a spool holds
    local st = env.completed()
    local script = env.dir .. "/slow.lua"
    util.write_file(script, [[
      local music, core, cjson = require "aimlmusic", require "aimlmusic.core", require "cjson"
      local st, dir = cjson.decode(arg[1]), arg[2]
      local engine, most, ok = core.engine(), 0, 0
      local client = assert(music.new { api_key = arg[3], base_url = arg[4] })
      for i = 1, 48 do
        music.spawn(function()
          assert(client:download(st, dir .. "/slow" .. i .. ".wav"))
          ok = ok + 1
        end)
      end
      while music.step(5) > 0 do most = math.max(most, engine:backlog()) end
      print(ok, most, engine:backlog())
    ]])
    local preload = ((os.getenv("LD_PRELOAD") or "") .. " " .. so):gsub("^ ", "")
    local out = util.sh(("LD_PRELOAD=%s SLOW_WRITE_US=3000 %s %s %s %s %s %s"):format(util.q(preload),
      os.getenv("AIMLMUSIC_TEST_LUA") or "lua5.4", util.q(script), util.q(require("cjson").encode(st)),
      util.q(env.dir), util.q(env.mock.key), util.q(env.mock.api_url)), true)
    local ok, most, left = out:match("^(%d+)%s+(%d+)%s+(%d+)")
    assert(ok, out)
    assert.equal(48, tonumber(ok))
    assert.equal(0, tonumber(left))
    -- The bound, and what each of the 32 running downloads may add past it: one read of
    -- libcurl's (96 KiB). Without the bound each holds up to a full spool (256 KiB) and more.
    local limit = 4 * 1024 * 1024 + 33 * 96 * 1024
    assert.is_true(tonumber(most) > 2 * 1024 * 1024, "the disk never fell behind: " .. most)
    assert.is_true(tonumber(most) <= limit, most .. " bytes waited for the disk at once")
  end)
end)
