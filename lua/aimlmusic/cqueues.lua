--- Lets client calls made inside cqueues coroutines (`cq:wrap`) yield to cqueues instead of
-- blocking its loop. They wait through `cqueues.poll` on one pollable object: the module's
-- descriptor (`music.pollfd()`, readable whenever `music.step(0)` has work) and its timeout.
--
--    local cqueues = require "cqueues"
--    require("aimlmusic.cqueues").attach()
--    local cq = cqueues.new()
--    cq:wrap(function() local st = client:generate(params, { output = "a.mp3" }) end)
--    assert(cq:loop())
--
-- Outside a cqueues coroutine calls behave as without it; tasks of `music.spawn` go on too:
-- whichever coroutine waits drives them. Lua 5.1 to 5.4 (wherever lua-cqueues is built).
-- @module aimlmusic.cqueues

local cqueues = require "cqueues"
local condition = require "cqueues.condition"
local task = require "aimlmusic.task"

local M = {}

local poll, running = cqueues.poll, cqueues.running
local attached = false

-- The object cqueues.poll watches: cqueues asks it for pollfd, events and timeout.
local waitable = { events = "r" }

function waitable.pollfd()
  return (task.pollfd())
end

function waitable.timeout()
  return task.timeout()
end

-- The descriptor wakes one of the coroutines waiting on it; the one that finds transfers
-- finished wakes the others, which each look whether theirs is among them.
local finished = condition.new()

-- True inside a coroutine a cqueues controller runs: there, poll yields to the controller.
local function active()
  local _, yieldable = running()
  return yieldable and true or false
end

local function wait(limit)
  if limit then
    poll(waitable, finished, limit)
  else
    poll(waitable, finished)
  end
end

local function notify()
  finished:signal()
end

--- Makes waiting calls inside cqueues coroutines yield to cqueues. Idempotent.
---@return true|nil ok
---@return string|nil err where there is no pollable descriptor (Windows)
function M.attach()
  if attached then return true end
  local fd, err = task.pollfd()
  if not fd then return nil, err end
  task.set_foreign({ active = active, wait = wait, notify = notify })
  attached = true
  return true
end

--- Undoes attach: waiting calls block again wherever they are made.
function M.detach()
  if not attached then return end
  task.set_foreign(nil)
  attached = false
end

return M
