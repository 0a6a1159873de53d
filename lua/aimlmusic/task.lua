-- The task scheduler: each task is a coroutine. Inside a task every waiting call yields here;
-- outside a task the same call blocks, driving the scheduler (and so every other task) while
-- it waits. One scheduler per Lua state, like the engine it drives.

local core = require "aimlmusic.core"

-- LuaJIT: the scheduler's loops are short and cross coroutine.resume, which traces cannot
-- follow, so recording them is aborted and retried for good, and each attempt (with the code
-- area it writes to made writable and back) lands in one step(0). Interpreted, they cost a
-- few microseconds instead of a millisecond now and then.
if jit then jit.off(true, true) end

local engine = core.engine()
local now = core.now
local co_create, co_resume, co_running, co_yield, co_status =
  coroutine.create, coroutine.resume, coroutine.running, coroutine.yield, coroutine.status
local co_close = coroutine.close -- Lua 5.4: runs the task's pending to-be-closed variables
local traceback = debug.traceback
local floor, min, max = math.floor, math.min, math.max
local unpack = table.unpack or unpack -- luacheck: ignore 143
local function pack(...) return { n = select("#", ...), ... } end

local M = {}

local WAIT = {} -- what a task yields when it waits for the scheduler
local CANCEL = {} -- what a task yields when a cancel held off by M.shield comes due
local STEP_BUDGET_MS = 0.3 -- the work of one step: libcurl first (half at most), then tasks

local pending = 0          -- tasks not yet finished
-- Works removing a cancelled task's partial files on the engine's workers: step counts them
-- with the tasks, so a loop that steps until nothing is pending leaves no file behind.
local cleaning, n_cleaning = {}, 0
local by_co = setmetatable({}, { __mode = "k" }) -- coroutine -> task
local ready = {}           -- tasks to resume on the next pass
local waiters = {}         -- transfer -> task waiting for it
local watchers = {}        -- task -> transfer whose progress wakes it
local running_task = nil
local done_list = {}
local driver = nil         -- a host loop adapter (aimlmusic.uv) when one is attached
local poll_fd = nil        -- the engine's pollable descriptor, once music.pollfd() gave it out
local foreign = nil        -- waits for coroutines of another scheduler (aimlmusic.cqueues)
local resume_cost = 0      -- seconds a resume takes: up at once with a long one, down slowly
local deferred = false     -- the last step's libcurl work took its whole budget: no task ran

-- Sleepers: a binary heap of {at, task, seq}; an entry whose seq no longer matches the task's
-- is stale (the task was woken or cancelled) and is skipped.
local heap, heap_n = {}, 0

local function heap_push(e)
  heap_n = heap_n + 1
  local i = heap_n
  heap[i] = e
  while i > 1 do
    local p = floor(i / 2)
    if heap[p].at <= e.at then break end
    heap[i], heap[p] = heap[p], e
    i = p
  end
end

local function heap_pop()
  local top = heap[1]
  local last = heap[heap_n]
  heap[heap_n] = nil
  heap_n = heap_n - 1
  if heap_n > 0 then
    local i = 1
    heap[1] = last
    while true do
      local l, r, s = 2 * i, 2 * i + 1, i
      if l <= heap_n and heap[l].at < heap[s].at then s = l end
      if r <= heap_n and heap[r].at < heap[s].at then s = r end
      if s == i then break end
      heap[i], heap[s] = heap[s], heap[i]
      i = s
    end
  end
  return top
end

local function make_ready(task)
  if task.state == "waiting" then
    task.state = "ready"
    task.seq = task.seq + 1
    ready[#ready + 1] = task
    if #ready == 1 then
      if driver then driver.kick() end
      if poll_fd then engine:arm(0) end -- the descriptor turns readable: step(0) has work
    end
  end
end

-- The gate: a lane (0: requests, 1: downloads) keeps at most GATE_ROOM transfers waiting for
-- a slot in the engine; a task beyond them waits here, before its transfer exists, so a queued
-- job costs its coroutine and not also an easy handle, a transfer and its request. Entries are
-- {task, seq}; one whose seq no longer matches (the task was cancelled) is skipped.
local GATE_ROOM = 32
-- A task let through counts in its lane's `granted` until it runs on (or is cancelled), so
-- that the room it takes is not given twice.
local gate = { [0] = { head = 1, tail = 0, granted = 0 }, [1] = { head = 1, tail = 0, granted = 0 } }
local gated = 0

local function open_gate()
  for lane = 0, 1 do
    local q = gate[lane]
    local room = q.tail >= q.head and GATE_ROOM - engine:count(lane) - q.granted or 0
    while room > 0 and q.tail >= q.head do
      local e = q[q.head]
      q[q.head], q.head, gated = nil, q.head + 1, gated - 1
      local task = e[1]
      if task.seq == e[2] then
        make_ready(task)
        task.granted, q.granted, room = q, q.granted + 1, room - 1
      end
    end
  end
end

local Task = {}
Task.__index = Task

function Task:__tostring()
  return "aimlmusic.task(" .. self.state .. ")"
end

--- True once the task's function has returned, raised or was cancelled.
function Task:done()
  return self.state == "done" or self.state == "failed" or self.state == "cancelled"
end

--- The values the task's function returned; nil, message when it raised or was cancelled.
function Task:result()
  if self.state == "done" then return unpack(self.results, 1, self.results.n) end
  if self.state == "failed" then return nil, self.error end
  if self.state == "cancelled" then return nil, "cancelled" end
  return nil, "pending"
end

local function finish(task, state)
  task.state = state
  pending = pending - 1
  by_co[task.co] = nil
  watchers[task] = nil
  local q = task.granted
  if q then q.granted, task.granted = q.granted - 1, nil end
  if task.transfer then
    waiters[task.transfer] = nil
    task.transfer = nil
  end
end

-- Has t's partial file, if any, closed and removed on a worker, not waited for.
local function clean(t)
  local w = core.work("discard", t)
  if w then
    cleaning[w] = true
    n_cleaning = n_cleaning + 1
  end
end

--- Stops the task now: its transfer is cancelled and its coroutine closed. Between M.shield
--- and M.unshield (a submit that may have reached the server) it stops at M.unshield instead.
function Task:cancel()
  if self:done() then return end
  if self == running_task then error("a task cannot cancel itself; return from it instead", 2) end
  if self.shield then
    self.cancel_due = true
    return
  end
  local t = self.transfer
  finish(self, "cancelled")
  self.seq = self.seq + 1
  if t then
    t:cancel()
    -- A download being moved into place is not waited for: it is done (its file in place) once
    -- its worker is. Its partial file goes now, not at the next GC, on a worker: a cancel from
    -- a host's frame does not wait for the disk.
    if t:done() then t:finish() end
    clean(t)
    if gated > 0 then open_gate() end -- its place in the engine's queue is free
  end
  if self.held then
    clean(self.held) -- the partial file an earlier attempt kept for the next one
    self.held = nil
  end
  -- libcurl has closed the transfer's socket: a host loop must forget it now, before its next
  -- poll registers a descriptor that is gone (libuv aborts on that) or another one's number.
  if t and driver and driver.flush then driver.flush() end
  if co_close and co_status(self.co) == "suspended" then co_close(self.co) end
end

--- Starts fn(...) as a task; it first runs at the next step.
function M.spawn(fn, ...)
  if type(fn) ~= "function" then
    error("aimlmusic.spawn: expected a function, got " .. type(fn), 2)
  end
  local args = pack(...)
  local task = setmetatable({ state = "waiting", seq = 0 }, Task)
  task.co = co_create(function()
    return fn(unpack(args, 1, args.n))
  end)
  by_co[task.co] = task
  pending = pending + 1
  make_ready(task)
  return task
end

--- The task running now, or nil outside any task (or in a coroutine of the user's own).
function M.current()
  local co = co_running()
  return co and by_co[co]
end

local function resume(task, errors)
  running_task = task
  task.state = "running"
  local r = pack(co_resume(task.co))
  running_task = nil
  if task.state == "cancelled" then return end
  if task.cancel_due and (not r[1] or r[2] == CANCEL) then -- a held-off cancel, due now
    task.shield, task.cancel_due = nil, nil
    return task:cancel()
  end
  if not r[1] then
    task.error = traceback(task.co, tostring(r[2]))
    finish(task, "failed")
    errors[#errors + 1] = task.error
  elseif co_status(task.co) == "dead" then
    task.results = { n = r.n - 1, unpack(r, 2, r.n) }
    finish(task, "done")
  elseif task.state == "running" then
    -- A plain coroutine.yield() from user code: run again on the next pass.
    task.state = "waiting"
    make_ready(task)
  end
end

local function wake_transfers(n_done)
  if gated > 0 then open_gate() end
  if n_done > 0 then
    for i = 1, #done_list do
      local t = done_list[i]
      done_list[i] = nil
      local task = waiters[t]
      if task then
        waiters[t] = nil
        make_ready(task)
      end
    end
  end
end

local function wake_watchers()
  for task, t in pairs(watchers) do
    if t:progress() ~= task.progress_seen then make_ready(task) end
  end
end

-- Moves finished transfers' tasks, due sleepers and progressed downloads to the ready list.
-- budget: seconds libcurl may spend (nil: all that is ready).
local function collect(budget)
  local n_done = 0
  if not driver then
    n_done = select(2, engine:perform(done_list, budget))
    wake_transfers(n_done)
  end
  if n_cleaning > 0 then
    for w in pairs(cleaning) do
      if w:done() then
        cleaning[w] = nil
        n_cleaning = n_cleaning - 1
      end
    end
  end
  if heap_n > 0 then
    local t = now()
    while heap_n > 0 and heap[1].at <= t do
      local e = heap_pop()
      if e.task.seq == e.seq then make_ready(e.task) end
    end
  end
  wake_watchers()
  return n_done
end

-- Milliseconds until the next sleeper is due, capped at limit.
local function until_next(limit)
  while heap_n > 0 and heap[1].task.seq ~= heap[1].seq do heap_pop() end
  if heap_n == 0 then return limit end
  return max(0, min(limit, (heap[1].at - now()) * 1000))
end

-- Resumes the ready tasks; with a deadline (core.now), stops before a resume that would end
-- past it (after one task at least) and leaves the rest, in order, for the next pass, so that
-- one step stays short however many are ready.
local function run_ready(stop_at)
  if #ready == 0 then return end
  local batch = ready
  ready = {}
  local errors = {}
  for i = 1, #batch do
    local task = batch[i]
    local t = stop_at and now()
    if t and i > 1 and t + resume_cost >= stop_at then
      local rest = {}
      for j = i, #batch do rest[#rest + 1] = batch[j] end
      for j = 1, #ready do rest[#rest + 1] = ready[j] end
      ready = rest
      break
    end
    if task.state == "ready" then
      resume(task, errors)
      if t then
        local d = now() - t
        resume_cost = d > resume_cost and d or resume_cost + (d - resume_cost) / 16
      end
    end
  end
  if #errors > 0 then error(errors[1], 0) end
end

-- Milliseconds until the next sleeper is due, -1 for none.
local function next_sleeper_ms()
  while heap_n > 0 and heap[1].task.seq ~= heap[1].seq do heap_pop() end
  if heap_n == 0 then return -1 end
  return max(0, (heap[1].at - now()) * 1000)
end

-- Sets the pollable descriptor's timer from what is left to do; returns the milliseconds
-- until step must run anyway, or nil.
local function arm()
  if #ready > 0 then return engine:arm(0) end
  return engine:arm(next_sleeper_ms())
end

local DRIVEN = "aimlmusic: tasks are driven by the attached event loop (aimlmusic.uv); "

--- Runs what is ready; waits up to timeout_ms (0: not at all) in the kernel when nothing is.
--- The work of one step keeps to budget_ms (default 0.3): libcurl gets half of it (ready
--- sockets wait, a download pauses), tasks the rest (one at least, unless libcurl, with
--- transfers in flight, took its half: then at the next step); what is left goes on at the next
--- step, so a frame is never held up by a crowd of transfers or tasks. Returns the number of
--- tasks still pending, and of cancelled downloads whose partial file a worker still removes.
function M.step(timeout_ms, budget_ms)
  if running_task then error("aimlmusic.step called from inside a task", 2) end
  if driver then error(DRIVEN .. "detach it before calling step", 2) end
  timeout_ms = timeout_ms or 0
  local budget = (budget_ms or STEP_BUDGET_MS) / 1000
  local start = now()
  local stop_at = start + budget
  collect(budget / 2)
  if #ready == 0 and timeout_ms > 0 then
    -- With sockets in flight, a watched download polls often enough to report progress.
    local limit = next(watchers) and min(timeout_ms, 100) or timeout_ms
    engine:poll(until_next(limit))
    start = now()
    stop_at = start + budget -- the wait is not work: the budget starts again after it
    collect(budget / 2)
  end
  -- libcurl, with transfers in flight, took its whole share: the tasks wait for the next step,
  -- unless they waited last time. A resume's cost is not known before it runs (one that starts
  -- a download, or meets the collector, takes several times the usual), so the first one of a
  -- step is not put after a full share of libcurl's. With nothing in flight a step runs one
  -- task at least, however slow the machine.
  deferred = not deferred and #ready > 0 and now() - start >= budget / 2 and engine:count() > 0
  if not deferred then run_ready(stop_at) end
  if poll_fd then arm() end
  return pending + n_cleaning
end

--- One descriptor, readable whenever step(0) has work: a socket of libcurl is ready, a
--- download was committed, a sleeper or libcurl's timer is due, a task is ready. A host loop
--- watches it (for reading) and calls step(0) when it is readable, or after timeout() seconds.
--- nil and a message where the platform has none (Windows: use step(timeout) or aimlmusic.uv).
function M.pollfd()
  if not poll_fd then
    local fd, err = engine:pollfd()
    if not fd then return nil, err end
    poll_fd = fd
    arm()
  end
  return poll_fd
end

--- Seconds until step must run even if the descriptor stays quiet (0: now), or nil when no
--- timer is pending (the descriptor alone then says when).
function M.timeout()
  local ms = poll_fd and arm() or nil
  if not poll_fd then
    if #ready > 0 then
      ms = 0
    else
      local s, c = next_sleeper_ms(), engine:timeout()
      if s < 0 or (c >= 0 and c < s) then s = c end
      ms = s >= 0 and s or nil
    end
  end
  return ms and ms / 1000
end

--- Installs (f = {active = fn, wait = fn(limit_s), notify = fn}) or removes (nil) a waiter
--- for coroutines of another scheduler: outside a task, a call that waits while f.active()
--- is true drives the tasks and calls f.wait(limit) to yield to that scheduler instead of
--- blocking; f.notify() is called when transfers finished, to wake the other waiters.
function M.set_foreign(f)
  if f and foreign then error("aimlmusic: a coroutine scheduler is already attached", 3) end
  foreign = f
end

-- One step(0)'s work from inside another scheduler's coroutine.
local function drive_foreign()
  if collect() > 0 then foreign.notify() end
  if not running_task then run_ready() end
  arm()
end

--- Drives every task to its end.
function M.run()
  if running_task then error("aimlmusic.run called from inside a task", 2) end
  if driver then error(DRIVEN .. "detach it before calling run", 2) end
  while pending + n_cleaning > 0 do
    M.step(1000, math.huge)
  end
end

-- The waiting primitives the client uses. Inside a task they yield; outside they block.

--- Raises when waiting here would block an attached host loop; called before any request
--- starts, so that nothing is left in flight.
function M.check_can_wait(level)
  if driver and not M.current() then
    error(DRIVEN .. "this call would block it: make it inside music.spawn", (level or 1) + 1)
  end
end

--- M.check_can_wait, and then the task running now (M.current()), or nil outside any.
function M.enter(level)
  local co = co_running()
  local task = co and by_co[co]
  if driver and not task then
    error(DRIVEN .. "this call would block it: make it inside music.spawn", (level or 1) + 1)
  end
  return task
end

--- Waits until the transfer is done; on_progress(bytes, total) is called as bytes arrive.
--- outside: the caller knows it runs outside any task (M.enter returned nil).
function M.await(t, on_progress, outside)
  local task = not outside and M.current()
  local seen = -1
  local report = on_progress and function() -- made only for a caller that watches
    local bytes, total = t:progress()
    if bytes ~= seen then
      seen = bytes
      on_progress(bytes, total)
    end
  end
  if task then
    while not t:done() do
      task.transfer = t
      waiters[t] = task
      if on_progress then
        watchers[task] = t
        task.progress_seen = seen
      end
      task.state = "waiting"
      co_yield(WAIT)
      task.transfer = nil
      waiters[t] = nil
      watchers[task] = nil
      if on_progress then report() end
    end
  elseif foreign and not driver and foreign.active() then
    while not t:done() do
      drive_foreign()
      if t:done() then break end
      foreign.wait(nil)
      if on_progress then report() end
    end
    drive_foreign()
  else
    if driver then M.check_can_wait(2) end
    if pending == 0 and not on_progress and heap_n == 0 then
      -- Nothing else to drive (no task, so none waits for a transfer): only this one to wait
      -- for, perform and poll in turn in C.
      return t:wait()
    end
    -- Inside a coroutine of the user's own within a task, other tasks cannot be resumed.
    local drive = not running_task
    while not t:done() do
      collect()
      if not t:done() then
        if drive then run_ready() end
        if not t:done() then
          engine:poll(until_next(on_progress and 100 or 1000))
        end
      end
      if on_progress then report() end
    end
    if drive then run_ready() end
  end
  if on_progress then report() end
end

--- In a task, waits until lane (0: requests, 1: downloads) has room for one more transfer
--- waiting for the engine; outside one, returns at once.
function M.slot(lane)
  local task = M.current()
  if not task then return end
  local q = gate[lane]
  if q.tail < q.head and engine:count(lane) < GATE_ROOM then return end
  q.tail, gated = q.tail + 1, gated + 1
  q[q.tail] = { task, task.seq }
  task.state = "waiting"
  co_yield(WAIT)
  q.granted, task.granted = q.granted - 1, nil
end

--- Runs file work (core.work's name and arguments: a journal append, a reservation ...) and
--- returns its results: inside a task on a worker thread, the task waiting for it without
--- holding up a step; outside one here, waiting.
function M.work(name, ...)
  if M.current() then
    local r = pack(core.work(name, ...))
    if r[1] == false then return unpack(r, 2, r.n) end -- answered at once
    M.await(r[1])
    return r[1]:result()
  end
  return core[name](...)
end

--- Holds off the running task's cancel until M.unshield: from a submit's send, which may make a
--- paid job, to its record in the journal. A Task:cancel() meanwhile lets the task run on to
--- M.unshield, where it ends as cancelled. Nothing outside a task.
function M.shield()
  local task = M.current()
  if task then task.shield = true end
end

--- Ends M.shield; a cancel that came meanwhile ends the task here.
function M.unshield()
  local task = M.current()
  if task and task.shield then
    task.shield = nil
    if task.cancel_due then co_yield(CANCEL) end
  end
end

--- Gives the running task a transfer whose partial file must go if the task is cancelled
--- (nil: none); outside a task there is no one to cancel it.
function M.hold(t)
  local task = M.current()
  if task then task.held = t end
end

--- Waits seconds (yields inside a task, sleeps in the kernel outside).
function M.sleep(seconds)
  local at = now() + max(0, seconds)
  local task = M.current()
  if task then
    task.state = "waiting"
    heap_push({ at = at, task = task, seq = task.seq })
    co_yield(WAIT)
  elseif foreign and not driver and foreign.active() then
    while true do
      drive_foreign()
      local left = at - now()
      if left <= 0 then break end
      foreign.wait(left)
    end
  else
    M.check_can_wait(2)
    while true do
      collect()
      if not running_task then run_ready() end
      local left = at - now()
      if left <= 0 then break end
      engine:poll(until_next(left * 1000))
    end
  end
end

-- The interface of host loop adapters (aimlmusic.uv).

--- Attaches (d = {kick = function, flush = function?}) or detaches (nil) a host loop driver.
--- kick() is called when a task becomes ready and the driver should call dispatch() soon;
--- flush() when libcurl's sockets changed outside dispatch (a cancel) and must be applied now.
function M.set_driver(d)
  if d and driver then error("aimlmusic: an event loop is already attached", 3) end
  engine:socket_mode(d ~= nil)
  driver = d
  if d and #ready > 0 then d.kick() end
end

--- Feeds a socket event (fd -1: libcurl's timer) to the engine and wakes the tasks it finished.
function M.socket_action(fd, events)
  local _, n_done = engine:socket_action(fd, events, done_list)
  wake_transfers(n_done)
  wake_watchers()
end

--- Runs what is ready; returns the milliseconds until the next sleeper is due, or nil.
function M.dispatch()
  collect()
  run_ready()
  local ms = until_next(math.huge)
  if ms == math.huge then return nil end
  return ms
end

--- Downloads being moved into place by a worker thread, and the descriptor that becomes
--- readable when one finishes; reap() wakes the tasks waiting for them.
function M.committing()
  return engine:committing()
end

function M.wake_fd()
  return engine:wake_fd()
end

function M.reap()
  wake_transfers(engine:reap(done_list))
end

--- The socket and timer requests of libcurl since the last call (see engine:changes).
function M.changes(list)
  return engine:changes(list)
end

--- Number of tasks not finished.
function M.pending()
  return pending
end

M.now = now

return M
