-- The engine's queue: at most 32 transfers of a class (API requests, downloads) run in libcurl
-- at once; the rest wait in line holding no libcurl buffer, start in order as slots free, and
-- a cancelled one leaves the line without ever being sent. Past 32 waiting in the engine, a
-- task waits before its transfer exists: a queued job then holds no easy handle either.

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local fixture = require "support.fixture"
local util = require "support.util"

local PARAMS = util.PARAMS

describe("the engine's queue", function()
  local env = fixture.mock_client { duration = 0 }

  it("runs 300 requests and 100 downloads at once to the end", function()
    local job = assert(env.client:submit(PARAMS))
    local st = assert(env.client:wait(job))
    local tasks = {}
    for i = 1, 300 do tasks[i] = music.spawn(function() return env.client:status(job.id) end) end
    for i = 1, 100 do
      tasks[300 + i] = music.spawn(function() return env.client:download(st, ("%s/%d.mp3"):format(env.dir, i)) end)
    end
    music.run()
    for i = 1, 300 do assert.equal("completed", (tasks[i]:result()).status) end
    for i = 1, 100 do
      local info, err = tasks[300 + i]:result()
      assert(info, tostring(err))
      assert.equal(st.size or info.bytes, info.bytes)
    end
    assert.equal(100, #util.select_reqs(env.mock:requests(), "cdn", "GET"))
  end)

  it("never sends a queued request that was cancelled", function()
    local job = assert(env.client:submit(PARAMS))
    local before = #util.select_reqs(env.mock:requests(), "api", "GET")
    local tasks = {}
    for i = 1, 100 do tasks[i] = music.spawn(function() return env.client:status(job.id) end) end
    music.step(0, math.huge) -- every task starts its request: 32 run, 68 wait in line
    for i = 50, 100 do tasks[i]:cancel() end
    music.run()
    for i = 1, 49 do
      local st, err = tasks[i]:result()
      assert(st, i .. ": " .. tostring(err))
      assert.equal("completed", st.status)
    end
    for i = 50, 100 do assert.equal("cancelled", select(2, tasks[i]:result())) end
    assert.equal(49, #util.select_reqs(env.mock:requests(), "api", "GET") - before)
  end)

  it("keeps at most 32 of a class waiting in the engine; the rest wait as tasks, in order", function()
    local job = assert(env.client:submit(PARAMS))
    local engine = core.engine()
    local before = #util.select_reqs(env.mock:requests(), "api", "GET")
    local tasks, order = {}, {}
    for i = 1, 300 do
      tasks[i] = music.spawn(function()
        local st, err = env.client:status(job.id)
        order[#order + 1] = i
        return st, err
      end)
    end
    music.step(0, math.huge) -- every task runs: 32 get in the engine's line, 268 wait
    assert.equal(32, engine:count(0))
    assert.is_true(engine:count() <= 64) -- those and the ones libcurl runs: no transfer beyond
    for i = 200, 300 do tasks[i]:cancel() end -- waiting in the gate: never sent
    local most = 0
    while music.step(0.01) > 0 do
      most = math.max(most, engine:count(0))
      assert.is_true(engine:count() <= 64, engine:count() .. " " .. engine:count(0))
    end
    assert.is_true(most <= 32, "engine line held " .. most)
    for i = 1, 199 do
      local st, err = tasks[i]:result()
      assert(st, i .. ": " .. tostring(err))
      assert.equal("completed", st.status)
    end
    -- First come, first sent: with 64 transfers at most, a task ends within 64 places of its turn.
    for pos, i in ipairs(order) do assert.is_true(math.abs(pos - i) < 64, i .. " ended " .. pos .. "th") end
    for i = 200, 300 do assert.equal("cancelled", select(2, tasks[i]:result())) end
    assert.equal(199, #util.select_reqs(env.mock:requests(), "api", "GET") - before)
  end)
end)
