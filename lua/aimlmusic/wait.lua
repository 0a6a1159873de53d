-- Following a job until it completes, fails or the deadline passes: the poll loop behind
-- client:wait. Without an interval the first poll waits until the job can be done and later
-- ones follow the schedule the client learns from its finished jobs (aimlmusic.schedule);
-- failed polls back off as any retry does (aimlmusic.perform).

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local task = require "aimlmusic.task"
local journal = require "aimlmusic.journal"
local perform = require "aimlmusic.perform"
local new_error = require("aimlmusic.errors").new
local events = require "aimlmusic.events"

local now, sleep = task.now, task.sleep
local min, max = math.min, math.max

local M = {}

local function job_failed(st)
  local e = st.error or {}
  return new_error("job_failed", e.message or "the job ended with status error", {
    code = e.name, id = st.id, trace_id = st.trace_id, st = st,
  })
end

-- The status of job `id` once completed, or nil and an error (see Client:wait). The caller
-- has checked the arguments and that it may wait.
function M.follow(client, id, opts)
  local interval = opts.interval or client.poll_interval
  local deadline = now() + (opts.timeout or client.wait_timeout)
  local on_status = opts.on_status
  local max_retries = opts.max_retries or client.max_retries
  local last, failures = nil, 0
  local started = client.started[id]
  local pending_at -- seconds after the submit when a poll last saw the job pending
  if not interval and started then
    -- No poll before the job can be done (see aimlmusic/schedule.lua).
    local wait_for = client.schedule:delay(started.model, now() - started.at)
    sleep(min(wait_for, max(0, deadline - now())))
  end
  while true do
    -- A poll never outlives the wait's deadline, however slow the server.
    local st, err = client:status(id, max(0.001, deadline - now()))
    if st then
      failures = 0
      if st.status ~= last then
        events.emit(client, "status", "info", { id = id, status = st.status })
        if on_status then on_status(st) end
      end
      last = st.status
      if st.status == "completed" then
        if started then
          client.schedule:learn(started.model, pending_at, now() - started.at)
          client.started[id] = nil
        end
        -- A job with an output still needs its download: generate/resume finish it.
        if client.journal and not client.outputs[id] then journal.mark_done(client, id) end
        return st
      end
      if st.status == "error" then
        client.started[id] = nil
        journal.mark_done(client, id) -- its output's reservation goes, with or without a journal
        return nil, job_failed(st)
      end
      -- queued, generating, and statuses not yet documented (such as "waiting") are pending.
      if started then pending_at = now() - started.at end
    else
      failures = failures + 1
      if not err.retryable or failures > max_retries then
        if err.kind == "not_found" then
          client.started[id] = nil
          journal.mark_done(client, id)
        end
        return nil, err
      end
    end
    local left = deadline - now()
    if left <= 0 then
      return nil, new_error("timeout", ("job %s still %s after waiting %gs; wait again to go on"):format(
        id, last or "unknown", opts.timeout or client.wait_timeout), { id = id, retryable = true })
    end
    local pause
    if not st then
      pause = perform.backoff(failures, err)
      if client.emit then
        perform.retrying({ client = client, request = "status", id = id }, failures, max_retries, min(pause, left), err)
      end
    else
      -- An id ends with ":model" (e84c6bd4-…:minimax/music-2.0).
      pause = interval or client.schedule:delay(started and started.model or id:match(":([^:]+)$"),
        started and now() - started.at or nil)
    end
    sleep(min(pause, left))
  end
end

return M
