-- Loaded inside headless Neovim by spec/nvim_spec.lua (dofile): records notifications, times
-- a 10 ms timer, waits for conditions, and writes what it saw as JSON for the spec to read.
--
--   local H = dofile(os.getenv("AIMLMUSIC_NVIM_HELPER"))
--   H.run(function() ... H.finish{ ... } end)
--
-- Environment: AIMLMUSIC_NVIM_RESULT (the JSON file to write).

local uv = vim.loop -- Neovim 0.7 has no vim.uv
local H = { notes = {} }

--- Replaces vim.notify with a recorder. mode "replace": it returns an id for each call, as
--- nvim-notify and fidget do; "plain": it returns nothing, as the built-in one.
function H.record_notify(mode)
  local k = 0
  vim.notify = function(msg, level, opts) -- luacheck: ignore 122 (replacing it is the point)
    opts = opts or {}
    k = k + 1
    H.notes[#H.notes + 1] = {
      msg = tostring(msg), level = level or vim.log.levels.INFO, fast = vim.in_fast_event(),
      replace = opts.replace, key = opts.key, opts_id = opts.id, id = mode == "replace" and k or nil,
      at = uv.hrtime() / 1e6,
    }
    if mode == "replace" then return k end
  end
end

--- The first recorded notification whose text has plain string s, and its index.
function H.find(s)
  for i, n in ipairs(H.notes) do
    if n.msg:find(s, 1, true) then return n, i end
  end
end

--- Waits (running the event loop) until pred() is true; raises after ms.
function H.wait_for(pred, ms, what)
  if not vim.wait(ms or 20000, pred, 10) then error("timed out waiting for " .. (what or "a condition"), 2) end
end

--- A 10 ms repeating timer on the editor's loop; returns a function giving and resetting
--- {max_gap_ms, ticks, elapsed_ms} since the previous call.
function H.ticker()
  local timer = uv.new_timer()
  local last, last_cpu, max_gap, max_cpu, ticks, since = nil, nil, 0, 0, 0, uv.hrtime()
  timer:start(10, 10, function()
    local t, c = uv.hrtime(), os.clock()
    if last then
      max_gap = math.max(max_gap, (t - last) / 1e6)
      -- The CPU time the process spent in the gap: the part of it that load cannot stretch.
      max_cpu = math.max(max_cpu, (c - last_cpu) * 1000)
    end
    last, last_cpu, ticks = t, c, ticks + 1
  end)
  return function(stop)
    local r = { max_gap_ms = max_gap, max_cpu_ms = max_cpu, ticks = ticks, elapsed_ms = (uv.hrtime() - since) / 1e6 }
    max_gap, max_cpu, ticks, since = 0, 0, 0, uv.hrtime()
    if stop then timer:stop() end
    return r
  end
end

--- Holds the loop for ms of CPU time, n times, 150 ms apart: what holding it that long costs in
-- wall time on this machine, right now, shows in a ticker's largest gap.
function H.hold(ms, n)
  for _ = 1, n do
    local c0 = os.clock()
    while (os.clock() - c0) * 1000 < ms do end
    vim.wait(150, function() return false end, 10)
  end
end

--- Writes t (with the notifications) to AIMLMUSIC_NVIM_RESULT; with quit, leaves Neovim.
function H.finish(t, quit)
  t = t or {}
  t.notes = H.notes
  local path = assert(os.getenv("AIMLMUSIC_NVIM_RESULT"))
  local f = assert(io.open(path .. ".tmp", "w"))
  f:write(vim.json.encode(t))
  f:close()
  assert(os.rename(path .. ".tmp", path))
  if quit ~= false then vim.cmd("qa!") end
end

--- Runs `:AimlMusic generate PROMPT` and waits (20 s at most) until done() is true; without
-- done, until a notification says the track is saved. what: what is awaited, for the error.
function H.generate(prompt, done, what)
  vim.cmd("AimlMusic generate " .. prompt)
  H.wait_for(done or function() return H.find("saved ") end, 20000, what or "the track")
end

--- Runs fn once the editor is up (after VimEnter); an error ends the run with its traceback.
function H.run(fn)
  vim.defer_fn(function()
    local ok, err = xpcall(fn, debug.traceback)
    if not ok then H.finish({ error = tostring(err) }) end
  end, 0)
end

return H
