-- Backoff between retries: exponential from 0.5 s with jitter, capped at 8 s; a server's
-- Retry-After (seconds or an HTTP date) honoured up to 120 s and never past the wait's
-- deadline. Timed on a copy of the library whose clock runs faster (support/fastclock.lua).

local fixture = require "support.fixture"
local fastclock = require "support.fastclock"
local util = require "support.util"
local errors = require "support.errors"

local PARAMS = util.PARAMS

-- The first retry came between least (inclusive) and most seconds after the first try.
local function assert_retried(g, least, most)
  assert.is_true(g[1] >= least and g[1] < most, "retried after " .. g[1] .. " s")
end

-- Retry-After on the fast clock: what the mock answers to which request, how much faster the
-- clock runs, and when (in the client's seconds) the retry must come.
local RETRY_AFTER = {
  { "honours Retry-After given in seconds", on = "poll", status = 429, value = "3", speed = 10, within = { 2.95, 5 } },
  -- The date has whole seconds: 4 to 5 s from when it was written.
  { "honours Retry-After given as an HTTP date", on = "poll", status = 503, speed = 10, within = { 3.9, 7 },
    value = function() return os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 5) end },
  { "caps Retry-After at 120 s for polls", on = "poll", status = 503, value = "600", speed = 100, within = { 119, 200 } },
  { "caps Retry-After at 120 s for downloads", on = "download", status = 429, value = "600", speed = 100,
    within = { 119, 200 } },
}

describe("backoff", function()
  local env = fixture.mock_client { duration = 0.2 }
  local fast = fastclock.new(env)

  it("grows exponentially from 0.5 s and is capped at 8 s", function()
    local c = fast.client { max_retries = 7 }
    fast.speed(20)
    env.mock:config { duration = 0 }
    local job = assert(fast.run(function() return c:submit(PARAMS) end))
    env.mock:fault { method = "GET", status = 503, times = 7 }
    local st = assert(fast.run(function() return c:wait(job) end))
    assert.equal("completed", st.status)
    local g = fastclock.gaps(env.mock:requests(), "api", "GET", 20)
    assert.equal(7, #g)
    -- Retry n waits between half and all of min(8, 0.5 * 2^(n-1)) seconds.
    local full = { 0.5, 1, 2, 4, 8, 8, 8 }
    for n = 1, 7 do
      assert.is_true(g[n] >= full[n] / 2 * 0.95, ("retry %d after %.2f s, expected at least %.2f"):format(
        n, g[n], full[n] / 2))
      -- (the upper bound allows for 100 ms of real-time latency on a loaded machine)
      assert.is_true(g[n] <= full[n] + 2, ("retry %d after %.2f s, expected at most %.2f"):format(
        n, g[n], full[n]))
    end
  end)

  it("has jitter: the first retry waits between 0.25 s and 0.5 s, not always the same", function()
    local c = fast.client { max_retries = 1 }
    fast.speed(5)
    env.mock:config { duration = 0 }
    local job = assert(fast.run(function() return c:submit(PARAMS) end))
    local samples = {}
    for i = 1, 8 do
      local before = #env.mock:requests()
      env.mock:fault { method = "GET", status = 503 }
      assert(fast.run(function() return c:wait(job) end))
      local reqs = env.mock:requests()
      samples[i] = (reqs[before + 2].time - reqs[before + 1].time) * 5
    end
    local lo, hi = math.huge, -math.huge
    for _, s in ipairs(samples) do
      lo, hi = math.min(lo, s), math.max(hi, s)
      assert.is_true(s >= 0.24 and s <= 1.5, "first retry after " .. s .. " s")
    end
    -- Latency only adds: without jitter every sample would be 0.5 s or more.
    local shown = table.concat(samples, ", ")
    assert.is_true(lo < 0.49, "no sample below 0.49 s: " .. shown)
    assert.is_true(hi - lo > 0.05, "samples all alike: " .. shown)
  end)
  it("waits at least a Retry-After of 1 s, and well under 5 s (real clock)", function()
    local job = assert(env.client:submit(PARAMS))
    env.mock:fault { method = "GET", status = 503, headers = { ["Retry-After"] = "1" } }
    assert(env.client:wait(job))
    assert_retried(fastclock.gaps(env.mock:requests(), "api", "GET"), 0.99, 5)
  end)

  for _, case in ipairs(RETRY_AFTER) do
    it(case[1], function()
      local c = fast.client()
      local function fault(host, method)
        local value = type(case.value) == "function" and case.value() or case.value
        env.mock:fault { host = host, method = method, status = case.status, headers = { ["Retry-After"] = value } }
      end
      if case.on == "poll" then
        fast.speed(case.speed)
        env.mock:config { duration = 0 }
        local job = assert(fast.run(function() return c:submit(PARAMS) end))
        fault(nil, "GET")
        assert(fast.run(function() return c:wait(job) end))
      else
        local st = env.completed()
        fast.speed(case.speed)
        fault("cdn")
        assert(fast.run(function() return c:download(st, env.dir .. "/capped.wav") end))
      end
      local host = case.on == "poll" and "api" or "cdn"
      assert_retried(fastclock.gaps(env.mock:requests(), host, "GET", case.speed), case.within[1], case.within[2])
    end)
  end

  it("shrugs off a Retry-After that is not a number or a date", function()
    local job = assert(env.client:submit(PARAMS))
    env.mock:fault { method = "GET", status = 503, headers = { ["Retry-After"] = "soon, maybe" } }
    env.mock:fault { method = "GET", status = 503, headers = { ["Retry-After"] = "-5" } }
    local st = assert(env.client:wait(job))
    assert.equal("completed", st.status)
    local g = fastclock.gaps(env.mock:requests(), "api", "GET")
    assert.is_true(g[1] < 1.5 and g[2] < 2.5, "retried after " .. g[1] .. " s and " .. g[2] .. " s")
  end)

  it("never waits past the wait deadline, whatever Retry-After says", function()
    env.mock:config { duration = 60 }
    local job = assert(env.client:submit(PARAMS))
    env.mock:fault { method = "GET", status = 503, headers = { ["Retry-After"] = "30" } }
    local err, took = errors.times_out(function() return env.client:wait(job, { timeout = 1 }) end)
    assert.equal(job.id, err.id)
    assert.is_true(took >= 0.9 and took < 2.5, "took " .. took .. " s")
  end)
end)
