-- Measures how responsive Neovim stays while :AimlMusic runs: a 10 ms repeating timer on the
-- editor's own event loop records the largest gap between its ticks, from just before the
-- command until the track is saved. spec/nvim_spec.lua runs it headless against the mock:
--
--   AIMLMUSIC_NVIM_RESULT=/tmp/result.lua nvim --headless --clean \
--     --cmd "set runtimepath^=examples/nvim" song.txt -c "luafile examples/nvim/test/responsiveness.lua"
--
-- Environment: AIMLMUSIC_NVIM_RESULT (where the results go, as a Lua chunk), AIMLMUSIC_NVIM_PROMPT,
-- AIMLMUSIC_NVIM_POLL (poll interval, seconds), AIMLMUSIC_NVIM_TIMEOUT (seconds, then it gives up).
-- The script returns at once: the editor's main loop runs everything that follows.

local uv = vim.uv or vim.loop
local result_path = assert(os.getenv("AIMLMUSIC_NVIM_RESULT"), "AIMLMUSIC_NVIM_RESULT is not set")
local prompt = os.getenv("AIMLMUSIC_NVIM_PROMPT") or "A calm and soothing instrumental with gentle piano."
local poll = tonumber(os.getenv("AIMLMUSIC_NVIM_POLL") or "") or 0.25
local give_up = tonumber(os.getenv("AIMLMUSIC_NVIM_TIMEOUT") or "") or 20

local ticks, max_gap, max_gap_at, last_tick = 0, 0, 0, nil
local t_start
local messages = {}
local finished = false

local tick = uv.new_timer()
local deadline = uv.new_timer()

local function finish(reason)
  if finished then return end
  finished = true
  tick:stop()
  deadline:stop()
  local elapsed = (uv.hrtime() - t_start) / 1e6
  local out = {
    "return {",
    ("  reason = %q,"):format(reason),
    ("  max_gap_ms = %.3f, max_gap_at_ms = %.3f, ticks = %d, elapsed_ms = %.3f,"):format(
      max_gap, max_gap_at, ticks, elapsed),
    ("  has_command = %s,"):format(tostring(vim.fn.exists(":AimlMusic") == 2)),
    "  messages = {",
  }
  for _, m in ipairs(messages) do
    out[#out + 1] = ("    { msg = %q, level = %d, fast = %s },"):format(m.msg, m.level, tostring(m.fast))
  end
  out[#out + 1] = "  },"
  out[#out + 1] = "}"
  local f = assert(io.open(result_path .. ".tmp", "w"))
  f:write(table.concat(out, "\n"), "\n")
  f:close()
  assert(os.rename(result_path .. ".tmp", result_path))
  vim.cmd("qa!")
end

-- Record every notification; the plugin's last one (saved, or an error) ends the run.
local notify = vim.notify
vim.notify = function(msg, level, opts) -- luacheck: ignore 122 (wrapping it is the point)
  level = level or vim.log.levels.INFO
  local fast = vim.in_fast_event()
  messages[#messages + 1] = { msg = tostring(msg), level = level, fast = fast }
  if fast then
    -- Not allowed here: record it and end the run without touching the editor.
    vim.schedule(function() finish("notify called from a fast event") end)
    return
  end
  notify(msg, level, opts)
  if level >= vim.log.levels.ERROR then
    finish("error")
  elseif tostring(msg):find("saved ", 1, true) then
    finish("done")
  end
end

require("aimlmusic_nvim").setup { poll_interval = poll }

t_start = uv.hrtime()
tick:start(10, 10, function()
  local t = uv.hrtime()
  if last_tick then
    local gap = (t - last_tick) / 1e6
    if gap > max_gap then max_gap, max_gap_at = gap, (t - t_start) / 1e6 end
  end
  last_tick = t
  ticks = ticks + 1
end)
deadline:start(give_up * 1000, 0, function()
  vim.schedule(function() finish("timeout") end)
end)

-- Run the command from the main loop once the timer is going, so that its own synchronous
-- part (loading the module, validating, submitting) counts too.
vim.defer_fn(function()
  vim.cmd("AimlMusic " .. prompt)
end, 50)
