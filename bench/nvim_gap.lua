-- Neovim: the largest gap the library adds to a 10 ms timer of the editor's loop. Rounds of two
-- phases in one run: the timer alone for as long as the last jobs took, then the timer while
-- NJOBS jobs (submit, poll, download) run as tasks driven by aimlmusic.uv on the same loop.
-- Run headless; the loop turns inside vim.wait. Writes one line of figures to OUT.
--   AIMLMUSIC_API=URL AIMLMUSIC_NJOBS=10 AIMLMUSIC_OUT=FILE AIMLMUSIC_DIR=DIR \
--     nvim --headless --clean -c "luafile bench/nvim_gap.lua"
local uv = vim.uv or vim.loop
local api, njobs = os.getenv("AIMLMUSIC_API"), tonumber(os.getenv("AIMLMUSIC_NJOBS") or "10")
local out_path, dir = os.getenv("AIMLMUSIC_OUT"), os.getenv("AIMLMUSIC_DIR")
local rounds = tonumber(os.getenv("AIMLMUSIC_ROUNDS") or "3")

local function write(line)
  local f = assert(io.open(out_path, "w"))
  f:write(line, "\n")
  f:close()
end

local ok, err = pcall(function()
  local music = require "aimlmusic"
  local adapter = require "aimlmusic.uv"
  local client = assert(music.new { api_key = "test-key", base_url = api, poll_interval = 0.5 })
  local params = {
    model = "minimax/music-2.0",
    prompt = "A calm and soothing instrumental with gentle piano and soft strings.",
    lyrics = "[Verse]\nStreetlights flicker, the night breeze sighs\n[Chorus]\nIn this small cafe, I find my way",
  }

  -- Runs the 10 ms timer until done() or for seconds; returns the largest gap (ms) and the time taken (s).
  local function timed(done, seconds)
    local last, gap = nil, 0
    local timer = uv.new_timer()
    timer:start(10, 10, function()
      local t = uv.hrtime()
      if last then gap = math.max(gap, (t - last) / 1e6) end
      last = t
    end)
    local t0 = uv.hrtime()
    vim.wait(seconds * 1000, done, 5)
    timer:stop()
    timer:close()
    return gap, (uv.hrtime() - t0) / 1e9
  end

  adapter.attach(uv)
  local base, with, added = {}, {}, {}
  local seconds = 3
  for r = 1, rounds do
    base[r] = timed(function() return false end, seconds)
    local left = njobs
    for i = 1, njobs do
      music.spawn(function()
        assert(client:generate(params, { output = ("%s/nvim-%d-%d.mp3"):format(dir, r, i), overwrite = true }))
        left = left - 1
      end)
    end
    with[r], seconds = timed(function() return left == 0 end, 60)
    assert(left == 0, "jobs did not finish")
    added[r] = with[r] - base[r]
  end
  table.sort(added)
  write(("base_ms %.3f with_ms %.3f added_median_ms %.3f added_max_ms %.3f rounds %d jobs %d"):format(
    math.max(unpack(base)), math.max(unpack(with)), added[math.floor((rounds + 1) / 2)], added[rounds], rounds, njobs))
end)
if not ok then write("error " .. tostring(err):gsub("%s+", " ")) end
vim.cmd("qa!")
