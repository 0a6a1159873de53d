-- aimlmusic.uv: tasks driven by a luv loop through libcurl's socket and timer callbacks.

local music = require "aimlmusic"
local adapter = require "aimlmusic.uv"
local fixture = require "support.fixture"
local util = require "support.util"
local uv = require "luv"

local PARAMS = util.PARAMS

-- #posix: needs luv
describe("aimlmusic.uv #posix", function()
  local env = fixture.mock_client { duration = 0.5, client = { poll_interval = 0.1 } }

  before_each(function()
    adapter.attach(uv)
  end)

  after_each(function()
    adapter.detach()
    uv.run("nowait") -- lets luv finish closing the handles before the state is closed
  end)

  it("generates and downloads from inside the loop, which then exits by itself", function()
    local a = music.spawn(function() return env.client:generate(PARAMS, { output = env.dir .. "/a.mp3" }) end)
    local b = music.spawn(function() return env.client:generate(PARAMS, { output = env.dir .. "/b.mp3" }) end)
    local t0 = uv.hrtime()
    uv.run() -- returns only once no handle is active: nothing repeats
    local elapsed = (uv.hrtime() - t0) / 1e9
    assert.equal(env.dir .. "/a.mp3", (a:result()).path)
    assert.equal(env.dir .. "/b.mp3", (b:result()).path)
    assert.is_true(elapsed < 5, "took " .. elapsed .. " s")
  end)

  it("reports a task's failure through its result", function()
    local t = music.spawn(function() return env.client:status("unknown:minimax/music-2.0") end)
    uv.run()
    local st, err = t:result()
    assert.is_nil(st)
    assert.equal("not_found", err.kind)
  end)

  it("refuses calls that would block the loop, and step/run", function()
    assert.has_error(function() env.client:status("x") end,
      "aimlmusic: tasks are driven by the attached event loop (aimlmusic.uv); "
      .. "this call would block it: make it inside music.spawn")
    assert.has_error(function() music.step(0) end)
    assert.has_error(function() music.run() end)
  end)

  it("refuses a second attach and a non-luv argument", function()
    assert.has_error(function() adapter.attach(uv) end)
    adapter.detach()
    assert.has_error(function() adapter.attach({}) end)
    adapter.attach(uv)
  end)

  it("spends almost no CPU while 10 jobs are in flight for 5 s", function()
    env.mock:config { duration = 60 }
    local c = assert(music.new { api_key = env.mock.key, base_url = env.mock.api_url, poll_interval = 2.5 })
    local jobs = {}
    for i = 1, 10 do
      music.spawn(function() jobs[i] = assert(c:submit(PARAMS)) end)
    end
    uv.run()
    assert.equal(10, #jobs)
    local function polls() return #util.select_reqs(env.mock:requests(), "api", "GET") end
    local tasks, polls0 = {}, polls()
    for i = 1, 10 do
      tasks[i] = music.spawn(function() return c:wait(jobs[i], { timeout = 5 }) end)
    end
    -- Both windows start from a full collection: in one busted process for every file (make
    -- asan, valgrind) the heap is tens of MB, and a collection cycle landing in one window alone
    -- (80 to 100 ms under ASan) would be measured as the loop's.
    collectgarbage("collect")
    local cpu0, t0 = os.clock(), uv.hrtime()
    uv.run()
    local cpu = (os.clock() - cpu0) * 1000
    local wall = (uv.hrtime() - t0) / 1e9
    local n = polls() - polls0
    for i = 1, 10 do
      local st, err = tasks[i]:result()
      assert.is_nil(st)
      assert.equal("timeout", err.kind)
    end
    assert.is_true(wall >= 4.9, "waited " .. wall .. " s")
    -- The baseline, in this run and this build (sanitizers and valgrind slow both alike): the
    -- same status polls made back to back, with no waiting between them.
    local per = math.ceil(n / 10)
    for i = 1, 10 do
      music.spawn(function()
        for _ = 1, per do assert(c:status(jobs[i].id)) end
      end)
    end
    collectgarbage("collect")
    local bcpu0 = os.clock()
    uv.run()
    local busy = (os.clock() - bcpu0) * 1000
    print(("\n  uv adapter: 10 jobs in flight, %.1f s of waiting, %.1f ms of CPU; "
      .. "their %d polls back to back: %.1f ms"):format(wall, cpu, n, busy))
    -- Waiting may cost the polls themselves and a few wakeups of the loop for each, never a
    -- loop that spins or ticks while nothing is due.
    assert.is_true(cpu < 3 * busy + 10, ("%.1f ms of CPU, the polls alone %.1f ms"):format(cpu, busy))
  end)

  it("detaches cleanly, leaving step/run to drive later tasks", function()
    adapter.detach()
    assert.is_false(adapter.attached())
    local t = music.spawn(function() return env.client:submit(PARAMS) end)
    music.run()
    assert.equal("queued", (t:result()).status)
    adapter.attach(uv)
  end)
end)
