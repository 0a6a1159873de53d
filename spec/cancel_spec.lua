-- Cancelling a task: task:cancel() stops its transfer at once, a download leaves no file, and
-- a cancelled wait polls no more.

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local fixture = require "support.fixture"
local util = require "support.util"

local PARAMS = util.PARAMS
local ls, mkdir, select_reqs = util.ls, util.mkdir, util.select_reqs

local env = fixture.mock_client { duration = 0.2 }

describe("task:cancel()", function()
  it("stops a download at once and leaves no file", function()
    local st = env.completed()
    local sub = mkdir(env.dir .. "/cancel")
    env.mock:fault { host = "cdn", action = "slow", delay_ms = 3000 }
    local got = 0
    local task = music.spawn(function()
      return env.client:download(st, sub .. "/x.wav", { on_progress = function(done) got = done end })
    end)
    local deadline = core.now() + 5
    while got == 0 and core.now() < deadline do music.step(10) end
    assert.is_true(got > 0, "no bytes arrived")
    assert.equal(1, #ls(sub)) -- the temporary file
    local t0 = core.now()
    task:cancel()
    assert.is_true(core.now() - t0 < 0.25)
    assert.is_true(task:done())
    assert.same({ nil, "cancelled" }, { task:result() })
    -- The file goes on a worker (the thread that cancels does not wait for the disk): by the
    -- time the steps below have drained its job.
    local t1 = core.now()
    while core.now() - t1 < 0.3 do music.step(10) end
    assert.same({}, ls(sub))
    assert.equal(1, #select_reqs(env.mock:requests(), "cdn", "GET"))
  end)

  it("during wait stops the polling", function()
    env.mock:config { duration = 30 }
    local job = assert(env.client:submit(PARAMS))
    local task = music.spawn(function() return env.client:wait(job, { interval = 0.1 }) end)
    local t0 = core.now()
    while core.now() - t0 < 0.35 do music.step(10) end
    assert.is_false(task:done())
    task:cancel()
    local polls = #select_reqs(env.mock:requests(), "api", "GET")
    assert.is_true(polls >= 2)
    local t1 = core.now()
    while core.now() - t1 < 0.4 do music.step(10) end
    assert.equal(polls, #select_reqs(env.mock:requests(), "api", "GET"))
    assert.equal(0, music.step(0))
  end)
end)
