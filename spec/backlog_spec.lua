-- The bytes the engine counts as waiting for the disk (past a bound it admits no new download)
-- all come off again however a download ends: completed, cut and resumed, or cancelled while
-- its bytes come. A count left over would hold every later download back.

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local fixture = require "support.fixture"

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
end)
