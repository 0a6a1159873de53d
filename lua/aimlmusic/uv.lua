--- Drives aimlmusic's tasks from a luv loop: vim.uv / vim.loop in Neovim, or require "luv".
-- libcurl tells which sockets to watch and when its timer is due (multi_socket_action); this
-- adapter turns those into luv poll and timer handles. Nothing repeats and nothing polls:
-- with no transfer in flight and no task due, the adapter holds no active handle.
--
--    local music = require "aimlmusic"
--    require("aimlmusic.uv").attach(vim.uv or vim.loop)
--    music.spawn(function() ... client:generate(...) ... end)
--
-- While attached, calls that wait must run inside music.spawn (they would block the loop).
-- @module aimlmusic.uv

local task = require "aimlmusic.task"

local M = {}

local loop             -- the luv module in use
local timers_of        -- the luv module the timers below belong to
local polls = {}       -- fd -> poll handle
local changes = {}     -- reused buffer for task.changes
local curl_timer, due_timer, kick_timer
local wake_poll        -- watches the engine's wake pipe while downloads are being committed
local kicked = false

local run -- forward

-- luv poll events ("r", "w", "rw", with "d" for disconnect) as CURL_CSELECT_* bits.
local function select_bits(err, events)
  local bits = 0
  if events then
    if events:find("r", 1, true) or events:find("d", 1, true) then bits = bits + 1 end
    if events:find("w", 1, true) then bits = bits + 2 end
  end
  if err then bits = 4 end
  return bits
end

local function on_curl_timer()
  task.socket_action(-1, 0)
  run()
end

-- Applies what libcurl asked for: sockets to watch or forget, its timer. The requests of one
-- batch are applied in order, except that a socket opened and closed again within the batch
-- is never watched: its descriptor may already be gone, or belong to a new socket.
local last_remove = {}
local function apply()
  local n, timer_ms = task.changes(changes)
  for i = 1, n do
    if changes[2 * i] == 4 then last_remove[changes[2 * i - 1]] = i end
  end
  local failed
  for i = 1, n do
    local fd, what = changes[2 * i - 1], changes[2 * i]
    local p = polls[fd]
    if what == 4 then -- CURL_POLL_REMOVE
      if p then
        polls[fd] = nil
        p:stop()
        p:close()
      end
    elseif not (last_remove[fd] and last_remove[fd] > i) then
      if not p then
        p = loop.new_socket_poll(fd)
        polls[fd] = p
      end
      if not (p and p:start(what == 1 and "r" or what == 2 and "w" or "rw", function(err, events)
        task.socket_action(fd, select_bits(err, events))
        run()
      end)) then
        -- A socket that cannot be watched is reported to libcurl as failed, never left hanging.
        failed = failed or {}
        failed[#failed + 1] = fd
      end
    end
  end
  for i = 1, 2 * n do changes[i] = nil end
  for fd in pairs(last_remove) do last_remove[fd] = nil end
  if timer_ms then
    if timer_ms < 0 then
      curl_timer:stop()
    else
      curl_timer:start(timer_ms, 0, on_curl_timer)
    end
  end
  if failed then
    for _, fd in ipairs(failed) do
      local p = polls[fd]
      polls[fd] = nil
      if p then p:close() end
      task.socket_action(fd, 4) -- CURL_CSELECT_ERR
    end
    apply()
  end
end

-- Runs the ready tasks, then re-arms the one-shot timers from what they left behind.
function run()
  kicked = false
  kick_timer:stop()
  local ok, err = pcall(task.dispatch)
  apply()
  local ms = ok and err or nil
  if ms then
    due_timer:start(math.ceil(ms), 0, run)
  else
    due_timer:stop()
  end
  if task.committing() > 0 then
    if not wake_poll then wake_poll = loop.new_poll(task.wake_fd()) end
    wake_poll:start("r", function()
      task.reap()
      run()
    end)
  elseif wake_poll then
    wake_poll:stop()
  end
  if not ok then error(err, 0) end
end

local function kick()
  if not kicked then
    kicked = true
    kick_timer:start(0, 0, run)
  end
end

--- Attaches to a luv loop (the luv module: vim.uv, vim.loop or require "luv").
---@param uv table the luv module
function M.attach(uv)
  if type(uv) ~= "table" or type(uv.new_timer) ~= "function" or type(uv.new_socket_poll) ~= "function" then
    error("aimlmusic.uv.attach: expected the luv module (vim.uv, vim.loop or require \"luv\")", 2)
  end
  if loop then error("aimlmusic.uv.attach: already attached", 2) end
  -- Stopped timers hold nothing; they are kept across detach/attach instead of closed and made
  -- anew (luv needs a turn of the loop after a close, which a detach cannot promise).
  if timers_of ~= uv then
    curl_timer, due_timer, kick_timer = uv.new_timer(), uv.new_timer(), uv.new_timer()
    wake_poll = nil
    timers_of = uv
  end
  loop = uv
  task.set_driver({ kick = kick, flush = apply })
end

--- Detaches from the loop; tasks still pending go on with music.step / music.run. Let the
-- loop run once more afterwards (uv.run("nowait")) so that luv can finish closing socket polls.
function M.detach()
  if not loop then return end
  task.set_driver(nil)
  for fd, p in pairs(polls) do
    polls[fd] = nil
    p:stop()
    p:close()
  end
  if wake_poll then wake_poll:stop() end
  curl_timer:stop()
  due_timer:stop()
  kick_timer:stop()
  loop, kicked = nil, false
end

--- True while attached.
---@return boolean
function M.attached()
  return loop ~= nil
end

return M
