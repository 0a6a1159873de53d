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
    -- Bytes came (progress counts them as they come), and a worker has made the file for them.
    local deadline = core.now() + 5
    while (got == 0 or #ls(sub) == 0) and core.now() < deadline do music.step(10) end
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

  -- A POST that may have reached the server makes a paid job: the cancel lets the submit run on
  -- to its answer and the journal's record, then ends the task, so resume can finish the job.
  -- Before the send (the task waiting its turn for the engine) nothing is held back or sent.
  it("during a submit ends the task once the job is in the journal; before the send, sends nothing", function()
    local journal = env.dir .. "/cancel.journal"
    local client = env.new_client { journal = journal }
    -- The answer comes long enough after the POST for the cancel to come first, also under
    -- valgrind (the Makefile's time scale).
    local scale = tonumber(os.getenv("AIMLMUSIC_TIME_SCALE")) or 1
    env.mock:fault { method = "POST", delay_ms = 800 * scale }
    local output = env.dir .. "/cancelled-submit.mp3"
    local task = music.spawn(function() return client:generate(PARAMS, { output = output }) end)
    local t0 = core.now()
    while #select_reqs(env.mock:requests(), "api", "POST") == 0 and core.now() - t0 < 10 do music.step(10) end
    assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
    task:cancel()
    assert.is_false(task:done()) -- the submit's answer is still to come
    t0 = core.now()
    while not task:done() and core.now() - t0 < 10 * scale do music.step(10) end
    assert.same({ nil, "cancelled" }, { task:result() })
    local pending = require("aimlmusic.journal").pending(journal)
    assert.equal(1, #pending)
    assert.equal(env.mock:jobs()[1].id, pending[1].id)
    assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
    -- Nothing more is asked once it is cancelled; resume finishes the paid job.
    local t1 = core.now()
    while core.now() - t1 < 0.3 do music.step(10) end
    assert.equal(0, #select_reqs(env.mock:requests(), "api", "GET"))
    local done = assert(client:resume())
    assert.equal(output, done[1].path)

    -- 40 submits at once: past the engine's 32, the rest wait their turn; cancelled there, they
    -- send nothing and end at once.
    env.mock:reset()
    env.mock:fault { method = "POST", delay_ms = 300 * scale, times = -1 }
    local tasks = {}
    for i = 1, 40 do tasks[i] = music.spawn(function() return env.client:submit(PARAMS) end) end
    music.step(0)
    for i = 33, 40 do
      tasks[i]:cancel()
      assert.is_true(tasks[i]:done(), "task " .. i)
    end
    music.run()
    assert.equal(32, #select_reqs(env.mock:requests(), "api", "POST"))
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
