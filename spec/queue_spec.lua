-- The engine's queue: at most 32 transfers of a class (API requests, downloads) run in libcurl
-- at once; the rest wait in line holding no libcurl buffer, start in order as slots free, and
-- a cancelled one leaves the line without ever being sent.

local music = require "aimlmusic"
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
end)
