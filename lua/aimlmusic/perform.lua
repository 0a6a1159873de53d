-- One request to its end: start it, wait for it, and repeat it while its error is retryable,
-- backing off exponentially with jitter between tries. A server's Retry-After is honoured up
-- to a cap, and no wait goes past a deadline.

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local task = require "aimlmusic.task"
local retry = require "aimlmusic.retry"

local now, sleep, await, hold, check_can_wait = task.now, task.sleep, task.await, task.hold, task.check_can_wait
local random, min, max = math.random, math.min, math.max

local M = {}

local BACKOFF_BASE, BACKOFF_CAP, RETRY_AFTER_CAP = 0.5, 8, 120 -- seconds

-- Seconds to wait before retry number `attempt` (1-based), never past the deadline.
function M.backoff(attempt, err, deadline)
  local delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ^ (attempt - 1))
  delay = delay / 2 + random() * delay / 2
  if err.retry_after then delay = max(delay, min(err.retry_after, RETRY_AFTER_CAP)) end
  if deadline then delay = min(delay, max(0, deadline - now())) end
  return delay
end

-- Runs start(previous) --> transfer | nil, err, waits for it and returns what the transfer
-- finishes with, retrying errors marked retryable up to max_retries times. A download's failed
-- transfer is handed to the next attempt, which resumes from its partial file. Called straight
-- from a public function, whose caller it blames when it cannot wait.
function M.run(max_retries, start, on_progress, deadline)
  check_can_wait(3)
  local attempt, prev, t = 0, nil, nil
  local progress = on_progress and function(done, total)
    local ok, e = pcall(on_progress, done, total)
    if not ok then
      -- A raising callback ends its transfer and its file now, not at the next GC.
      t:cancel()
      t:discard()
      if prev then prev:discard() end
      hold(nil)
      error(e, 0)
    end
  end
  while true do
    local err
    t, err = start(prev)
    if t then
      await(t, progress)
      -- A download is moved into place by a worker thread: the loop never waits for the disk.
      if t:commit() then await(t) end
      local result
      result, err = retry.finish(t) -- where the core's result or error comes back
      if result then
        hold(nil)
        return result
      end
      if prev then prev:discard() end
      prev = t
      hold(prev) -- its partial file goes if the task is cancelled while it sleeps below
    end
    attempt = attempt + 1
    if not err.retryable or attempt > max_retries or (deadline and now() >= deadline) then
      if prev then prev:discard() end -- a failed download leaves no file behind
      hold(nil)
      return nil, err
    end
    sleep(M.backoff(attempt, err, deadline))
  end
end

return M
