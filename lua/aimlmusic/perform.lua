-- One request to its end: start it, wait for it, and repeat it while its error is retryable,
-- backing off exponentially with jitter between tries. A server's Retry-After is honoured up
-- to a cap, and no wait goes past a deadline. Each request, response and retry is an event of
-- the client (aimlmusic.events).

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local task = require "aimlmusic.task"
local retry = require "aimlmusic.retry"
local events = require "aimlmusic.events"
local finish = require("aimlmusic.response").finish

local now, sleep, await, hold, check_can_wait = task.now, task.sleep, task.await, task.hold, task.check_can_wait
local slot, work, shield, unshield = task.slot, task.work, task.shield, task.unshield
local current, enter, decide = task.current, task.enter, retry.decide
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

-- The events of one transfer in flight (a download's redirects and milestones), or nil.
local function watcher(req, emit)
  if not emit or req.request ~= "download" then return nil end
  local host, redirects, reached = events.host(req.url), 0, 0
  local w = {}
  function w.redirects(t)
    local tr = t:trace()
    if tr.redirects > redirects then
      redirects = tr.redirects
      events.emit(req.client, "redirect", "info", { request = req.request, from = host, host = tr.host,
                                                    count = redirects })
      host = tr.host
    end
  end
  function w.progress(t, done, total)
    w.redirects(t)
    local step, known = events.milestone(done, total)
    if step > reached then
      reached = step
      events.emit(req.client, "progress", "info", { request = req.request, bytes = done, total = total,
                                                    percent = known and math.min(100, step * 25) or nil })
    end
  end
  return w
end

-- The response event of finished transfer t (trace: what t:trace() said before its finish).
local function responded(req, attempt, trace, started, err)
  local client = req.client
  events.emit(client, "response", "info", {
    request = req.request, method = req.method, url = req.url, attempt = attempt, id = req.id,
    status = trace.status, elapsed = now() - started, request_id = err and err.request_id or nil,
    error = err and (err.kind .. ": " .. tostring(err.message)) or nil,
  })
  if err and req.request == "download" and err.kind == "timeout" then
    events.emit(client, "stall", "warn", { request = req.request, id = req.id, bytes = trace.bytes,
      reason = trace.stalled and "nothing received for the request timeout" or tostring(err.message) })
  end
end

-- Closes and removes t's partial file, if it has one: on a worker, awaited, inside a task.
local function discard(t)
  work("discard", t)
end

-- One line for a retry's cause: "server: Service Unavailable (HTTP 503)".
local function cause(err)
  return ("%s: %s%s"):format(err.kind, tostring(err.message), err.status and (" (HTTP %d)"):format(err.status) or "")
end

--- Says that req will be tried again in delay seconds after err (attempt: the one that failed).
function M.retrying(req, attempt, max_retries, delay, err)
  events.emit(req.client, "retry", "warn", {
    request = req.request, id = req.id, attempt = attempt, max_retries = max_retries, delay = delay,
    cause = cause(err), error_kind = err.kind, status = err.status,
  })
end

--- What run does for a submit or a status of a client without listeners, as far as the first
-- attempt: session[method](session, a, b) started, awaited and finished through map, without
-- the request table run takes, made by the caller only when this fails. Returns the result; or
-- nil, t, err (t: the failed transfer, nil when none started) for run(req, t, err) to go on
-- from. Called straight from a public function, like run.
function M.first(session, method, a, b, map)
  -- Outside a task (a blocking call) there is no slot to wait for, cancel to shield from or
  -- transfer to hold: asked once here, not in each of those.
  local in_task = enter(3)
  if in_task then
    slot(0) -- past the requests already queued for the engine
    if method == "submit" then shield() end -- a cancel now waits for the caller's unshield
  end
  local t, err = session[method](session, a, b)
  if not t then return nil, nil, err end
  await(t, nil, not in_task)
  local result
  result, err = finish(t, method, map)
  if result then
    if in_task then hold(nil) end
    return result
  end
  if err then decide(err) end
  return nil, t, err
end

-- Runs req.start(previous, req) --> transfer | nil, err, waits for it and returns what the
-- transfer finishes with (through req.map), retrying errors marked retryable up to
-- req.max_retries times. A download's failed transfer is handed to the next attempt, which
-- resumes from its partial file. req: {client, request ("submit", "status" or "download"),
-- method, url, id?, max_retries, start, on_progress?, deadline?, map?, and what start reads};
-- the client's events say each request, response and retry. Called straight from a public
-- function, whose caller it blames when it cannot wait. t, err: the first attempt, made
-- already by M.first (err is set then: run goes on from its failure), or nothing.
function M.run(req, t, err)
  check_can_wait(3)
  local max_retries, start, on_progress, deadline = req.max_retries, req.start, req.on_progress, req.deadline
  local emit = req.client.emit
  local download = req.request == "download"
  local watch = emit and download and watcher(req, emit) or nil
  -- Outside a task there is no one to hold a transfer for: hold() is skipped there.
  local in_task = current() ~= nil
  local attempt, prev, made = 0, nil, err ~= nil
  local progress = (on_progress or watch) and function(done, total)
    if watch then watch.progress(t, done, total) end
    if not on_progress then return end
    local ok, e = pcall(on_progress, done, total)
    if not ok then
      -- A raising callback ends its transfer and its file now, not at the next GC.
      t:cancel()
      discard(t)
      if prev then discard(prev) end
      hold(nil)
      error(e, 0)
    end
  end
  while true do
    if made then
      made = false -- M.first made this attempt: on from its failure
    else
      if in_task then slot(download and 1 or 0) end -- past the jobs already queued for the engine
      if in_task and req.request == "submit" then shield() end -- the caller unshields
      t, err = start(prev, req)
      if t and prev then
        discard(prev) -- what t did not take to resume from
        prev = nil
      end
      if t then
        local started = emit and now() -- for the response event only
        if emit then
          events.emit(req.client, "request", "debug", { request = req.request, method = req.method, url = req.url,
                                                        attempt = attempt + 1, id = req.id })
        end
        await(t, progress, not in_task)
        local trace
        if emit then
          if watch then watch.redirects(t) end
          trace = t:trace()
          trace.bytes = t:progress()
        end
        local result
        result, err = finish(t, req.request, req.map) -- what the core's facts come to
        if result == nil and err then decide(err) end
        if emit then responded(req, attempt + 1, trace, started, err) end
        if result then
          if in_task then hold(nil) end
          return result
        end
      end
    end
    if t then
      prev = t
      if in_task then hold(prev) end -- its partial file goes if the task is cancelled while it sleeps below
    end
    attempt = attempt + 1
    if not err.retryable or attempt > max_retries or (deadline and now() >= deadline) then
      if prev then discard(prev) end -- a failed download leaves no file behind
      if in_task then hold(nil) end
      return nil, err
    end
    local delay = M.backoff(attempt, err, deadline)
    if emit then M.retrying(req, attempt, max_retries, delay, err) end
    -- A submit is retried only when it was never sent (or answered 429): no job, so a cancel
    -- may stop it while it sleeps.
    if in_task and req.request == "submit" then unshield() end
    sleep(delay)
  end
end

return M
