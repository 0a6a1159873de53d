-- spec/support/fastclock.lua: backoff timing, checked in about a second.
--
-- A second copy of the library runs on a clock `speed` times faster than the real one: its
-- backoff and Retry-After delays, in its own seconds, pass that many times faster in real
-- time, so the 8 s and 120 s caps can be checked quickly. Delays are read from the mock's log
-- of request arrival times (real seconds) times the speed.
--
--   local fastclock = require "support.fastclock"
--   local fast = fastclock.new(env)            -- env: support.fixture's
--   local c = fast.client { max_retries = 2 }  -- a client of the fast copy, on env's mock
--   fast.speed(20)
--   local st = fast.run(function() return c:wait(job) end)
--   fastclock.gaps(env.mock:requests(), "api", "GET", 20)

local core = require "aimlmusic.core"
local util = require "support.util"

local M = {}

--- A fresh copy of aimlmusic on a clock of its own, and that clock ({now, speed(s)}). The speed
-- can change; the clock stays monotonic. Use the copy inside its own tasks, driven by M.run, so
-- that no wait ever blocks in the kernel for one of its long (fake) seconds.
function M.library()
  local real_now = core.now
  local base_real, base_fake, speed = real_now(), 0, 1
  local clock = {}
  function clock.now() return base_fake + (real_now() - base_real) * speed end
  function clock.speed(s)
    base_fake, base_real, speed = clock.now(), real_now(), s
  end
  -- Every module of the library loads again, so that each takes the clock from the new core.
  local saved = {}
  for name, mod in pairs(package.loaded) do
    if name == "aimlmusic" or name:match("^aimlmusic%.") then saved[name] = mod end
  end
  for name in pairs(saved) do package.loaded[name] = nil end
  package.loaded["aimlmusic.core"] = setmetatable({ now = clock.now }, { __index = core })
  local ok, m = pcall(require, "aimlmusic")
  for name in pairs(package.loaded) do
    if name == "aimlmusic" or name:match("^aimlmusic%.") then package.loaded[name] = nil end
  end
  for name, mod in pairs(saved) do package.loaded[name] = mod end
  assert(ok, m)
  return m, clock
end

--- Runs fn as a task of the copy m to its end (30 real seconds at most); returns its results.
function M.run(m, fn)
  local t = m.spawn(fn)
  local deadline = core.now() + 30
  while not t:done() and core.now() < deadline do m.step(2) end
  assert(t:done(), "the task did not finish within 30 s")
  return t:result()
end

--- The fast copy for the mock of env (support.fixture): client(opts) makes a client of it,
-- speed(s) sets its clock's speed, run(fn) runs fn as its task.
function M.new(env)
  local m, clock = M.library()
  return {
    music = m,
    speed = clock.speed,
    client = function(opts) return env.new_client(opts, m) end,
    run = function(fn) return M.run(m, fn) end,
  }
end

--- Seconds between consecutive requests of that host and method, times `speed`.
function M.gaps(reqs, host, method, speed)
  local list, out = util.select_reqs(reqs, host, method), {}
  for i = 2, #list do out[i - 1] = (list[i].time - list[i - 1].time) * (speed or 1) end
  return out
end

return M
