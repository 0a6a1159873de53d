-- A LÖVE game that generates a track while it keeps animating, then plays it.
--
-- The job runs as an aimlmusic task; love.update calls music.step(0) once per frame, which
-- runs whatever is ready and never waits, so the frame rate does not notice the network.
-- The track is saved in the game's save directory (a relative output) and what generate returns
-- names it for LÖVE: love.sound.newSoundData(st.file) decodes it, love.audio.newSource(st.file,
-- "static") plays it.
--
--   make build LUA=luajit          # LÖVE embeds LuaJIT: the module must be built for it
--   LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;;" LUA_CPATH="$PWD/build/luajit/?.so;;" \
--     AIMLAPI_KEY=... love examples/love
--
-- (LÖVE honours LUA_PATH and LUA_CPATH. A game can also carry the library itself:
-- `make love-bundle` writes build/love/ — aimlmusic.lua, aimlmusic/*.lua and aimlmusic/core.so —
-- to copy into the game's folder; require "aimlmusic" then works from the folder, a zipped .love
-- or a fused game, the native module being copied to the save directory.)
--
-- Keys: space plays the track again, escape quits.
--
-- Test mode (spec/love_spec.lua): AIMLMUSIC_LOVE_TEST=<result file> runs it headless (see
-- conf.lua), saves to AIMLMUSIC_LOVE_OUTPUT (relative: in the save directory), times every
-- music.step(0), writes the figures to the result file as a Lua chunk and quits.
-- AIMLMUSIC_POLL_INTERVAL sets the poll interval and AIMLMUSIC_LOVE_TIMEOUT (seconds) when the
-- test gives up.

-- luacheck: globals love.load love.update love.keypressed love.draw

local TEST = os.getenv("AIMLMUSIC_LOVE_TEST")

local PARAMS = {
  model = "minimax/music-2.0",
  prompt = "Upbeat chiptune adventure theme with bright square leads and a bouncy bass line.",
  lyrics = table.concat({
    "[Verse]",
    "Pixels dancing on the screen",
    "Every level, a brand new scene",
    "[Chorus]",
    "Press start, we're off again",
  }, "\n"),
  audio_setting = { format = "mp3", sample_rate = 44100, bitrate = 128000 },
}

local music, load_err
do
  local ok, m = pcall(require, "aimlmusic")
  if ok then music = m else load_err = m end
end

local game = {
  angle = 0,          -- of the spinning bar
  status = "starting",
  statuses = {},      -- every status seen, in order
  progress = nil,     -- download fraction, when known
  error = nil,        -- a message when something failed
  sound = nil,        -- the SoundData of the track
  source = nil,       -- its Source, when there is audio
  path = nil,         -- the track's OS path
  file = nil,         -- and its name in LÖVE's file system
  generate_s = nil,   -- seconds from love.load to the saved track
  bytes = nil,
  task = nil,
  finished = false,
}

-- Test mode figures: the duration of every music.step(0), in seconds, and the longest.
local steps, n_steps = {}, 0
local max_step, max_step_when = 0, nil -- the longest, and the status it ran in
-- On a busy machine the kernel may preempt the game in the middle of a step, which says nothing
-- about the step. On Linux, getrusage(RUSAGE_THREAD) counts this thread's involuntary context
-- switches (preemption) apart from its voluntary ones (blocking in the kernel, as on a disk):
-- a preempted step is counted apart, by the CPU time it used; a blocking one is not excused.
-- (On a virtual machine the host can stall the guest too: see love.update.)
local switches, cpu_time -- () -> voluntary, involuntary; () -> seconds of this thread's CPU
local max_own, max_own_when = 0, nil -- the longest step that was not preempted, after the first
local first_step = 0 -- the first (it starts the job: the one-time work of the first request)
local preempted, max_preempted, max_preempted_cpu, blocked = 0, 0, 0, 0
if TEST then
  local ok, ffi = pcall(require, "ffi")
  if ok and ffi.os == "Linux" and pcall(ffi.cdef, [[
      struct aimlmusic_rusage { long timevals[4]; long fields[14]; };
      struct aimlmusic_timespec { long tv_sec; long tv_nsec; };
      int getrusage(int who, struct aimlmusic_rusage *usage);
      int clock_gettime(int clock, struct aimlmusic_timespec *ts);]]) then
    local ru, ts = ffi.new("struct aimlmusic_rusage"), ffi.new("struct aimlmusic_timespec")
    switches = function()
      ffi.C.getrusage(1, ru) -- RUSAGE_THREAD; fields[12] is ru_nvcsw, fields[13] ru_nivcsw
      return tonumber(ru.fields[12]), tonumber(ru.fields[13])
    end
    cpu_time = function()
      ffi.C.clock_gettime(3, ts) -- CLOCK_THREAD_CPUTIME_ID
      return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
    end
  end
end
-- The reference: a fixed piece of the game's own Lua (a fraction of a millisecond) run after each
-- step and timed the same way. What its longest own call takes over its median is what this
-- machine added to any call in this run; the spec allows the steps that too.
local REF_ITERS = 20000
local refs, max_own_ref = {}, 0
local function ref_work()
  local x = 0
  for i = 1, REF_ITERS do x = x + i % 7 end
  return x
end
local t_start

local function set_status(s)
  game.status = s
  game.statuses[#game.statuses + 1] = s
end

-- Decodes the saved track and plays it. st.file is the track as LÖVE's file system names it
-- (a relative output lands in the save directory), what LÖVE's loaders take.
local function load_track(st)
  local ok, sd = pcall(love.sound.newSoundData, st.file)
  if not ok then return nil, "cannot decode " .. st.file .. ": " .. tostring(sd) end
  game.sound = sd
  if love.audio then
    game.source = love.audio.newSource(st.file, "static")
    game.source:play()
  end
  return sd
end

-- A relative path: the track goes to the save directory (love.filesystem.getSaveDirectory()).
local function output_path()
  if TEST then return assert(os.getenv("AIMLMUSIC_LOVE_OUTPUT"), "AIMLMUSIC_LOVE_OUTPUT is not set") end
  local path, i = "tracks/track.mp3", 0
  while love.filesystem.getInfo(path) do
    i = i + 1
    path = ("tracks/track-%d.mp3"):format(i)
  end
  return path
end

function love.load()
  t_start = love.timer.getTime()
  if not music then
    game.error = "cannot load aimlmusic: " .. tostring(load_err)
    return
  end
  -- No poll_interval: the first poll comes when the job can be done (at once against the mock).
  local client, err = music.new { poll_interval = tonumber(os.getenv("AIMLMUSIC_POLL_INTERVAL") or "") }
  if not client then
    game.error = tostring(err)
    return
  end
  local path = output_path()
  game.task = music.spawn(function()
    return client:generate(PARAMS, {
      output = path,
      on_status = function(st) set_status(st.status) end,
      on_progress = function(done, total)
        if total and total > 0 then game.progress = done / total end
      end,
    })
  end)
end

local function finish_task()
  game.finished = true
  local st, err = game.task:result()
  if not st then
    game.error = tostring(err)
    return
  end
  game.path, game.file, game.bytes = st.path, st.file, st.bytes
  game.generate_s = love.timer.getTime() - t_start
  set_status("saved")
  local ok, lerr = load_track(st)
  if not ok then game.error = lerr end
end

-- Test mode: the figures, as a Lua chunk the spec loads.
local function write_results(reason)
  local sorted = {}
  for i = 1, n_steps do sorted[i] = steps[i] end
  table.sort(sorted)
  local p99 = sorted[math.max(1, math.ceil(n_steps * 0.99))] or 0
  local sd = game.sound
  local out = {
    "return {",
    ("  reason = %q, error = %s,"):format(reason, game.error and ("%q"):format(game.error) or "nil"),
    ("  steps = %d, max_step_ms = %.4f, p99_step_ms = %.4f, max_step_when = %q,"):format(
      n_steps, max_step * 1000, p99 * 1000, tostring(max_step_when)),
    ("  switches_counted = %s, max_own_step_ms = %.4f, max_own_step_when = %q,"):format(
      tostring(switches ~= nil), (switches and max_own or max_step) * 1000,
      tostring(switches and max_own_when or max_step_when)),
    ("  preempted_steps = %d, max_preempted_step_ms = %.4f, max_preempted_cpu_ms = %.4f,"):format(
      preempted, max_preempted * 1000, max_preempted_cpu * 1000),
    ("  blocked_steps = %d, first_step_ms = %.4f,"):format(blocked, first_step * 1000),
    ("  ref_median_ms = %.4f, max_own_ref_ms = %.4f,"):format((function()
      table.sort(refs)
      return (refs[math.ceil(#refs / 2)] or 0) * 1000
    end)(), max_own_ref * 1000),
    ("  elapsed_s = %.3f,"):format(love.timer.getTime() - t_start),
    ("  path = %s, file = %s, bytes = %s,"):format(game.path and ("%q"):format(game.path) or "nil",
      game.file and ("%q"):format(game.file) or "nil", tostring(game.bytes)),
    ("  generate_s = %s,"):format(tostring(game.generate_s)),
    ("  samples = %d, sample_rate = %d, channels = %d, duration_s = %.3f,"):format(
      sd and sd:getSampleCount() or 0, sd and sd:getSampleRate() or 0,
      sd and sd:getChannelCount() or 0, sd and sd:getDuration() or 0),
    ("  audio = %s, played = %s,"):format(tostring(love.audio ~= nil),
      tostring(game.source ~= nil and game.source:isPlaying())),
    ("  graphics = %s, window = %s,"):format(tostring(love.graphics ~= nil), tostring(love.window ~= nil)),
    "  statuses = {",
  }
  for _, s in ipairs(game.statuses) do out[#out + 1] = ("    %q,"):format(s) end
  out[#out + 1] = "  },"
  out[#out + 1] = "}"
  local f = assert(io.open(TEST .. ".tmp", "w"))
  f:write(table.concat(out, "\n"), "\n")
  f:close()
  assert(os.rename(TEST .. ".tmp", TEST))
end

local give_up = tonumber(os.getenv("AIMLMUSIC_LOVE_TIMEOUT") or "") or 20

function love.update(dt)
  game.angle = game.angle + dt * 4
  if game.task and not game.finished then
    local before = game.status
    local v0, i0, c0
    if switches then
      v0, i0 = switches()
      c0 = cpu_time()
    end
    local t0 = love.timer.getTime()
    local ok, err = pcall(music.step, 0)
    local d = love.timer.getTime() - t0
    local c1 = switches and cpu_time()
    n_steps = n_steps + 1
    steps[n_steps] = d
    local function when()
      return ("step %d, %s%s"):format(n_steps, before, game.status ~= before and " -> " .. game.status or "")
    end
    if d > max_step then max_step, max_step_when = d, when() end
    if n_steps == 1 then first_step = d end
    if switches then
      local v1, i1 = switches()
      if v1 > v0 then blocked = blocked + 1 end
      -- A step that neither blocked nor was switched out but took far longer than its CPU time
      -- was stalled outside the guest (a virtual machine's host ran something else: steal time,
      -- which no context switch count shows): counted as preempted too.
      if i1 > i0 or (v1 == v0 and d - (c1 - c0) > 0.0005) then
        preempted = preempted + 1
        if d > max_preempted then max_preempted = d end
        if c1 - c0 > max_preempted_cpu then max_preempted_cpu = c1 - c0 end
      elseif n_steps > 1 and d > max_own then
        max_own, max_own_when = d, when()
      end
      v0, i0 = switches()
      c0 = cpu_time()
      t0 = love.timer.getTime()
      ref_work()
      d = love.timer.getTime() - t0
      c1 = cpu_time()
      v1, i1 = switches()
      refs[#refs + 1] = d
      if not (i1 > i0 or (v1 == v0 and d - (c1 - c0) > 0.0005)) and d > max_own_ref then max_own_ref = d end
    end
    if not ok then
      game.finished, game.error = true, tostring(err)
    elseif game.task:done() then
      finish_task()
    end
  end
  if TEST then
    if game.finished or game.error then
      write_results(game.error and "error" or "done")
      love.event.quit(game.error and 1 or 0)
    elseif love.timer.getTime() - t_start > give_up then
      write_results("timeout")
      love.event.quit(1)
    end
  end
end

function love.keypressed(key)
  if key == "escape" then
    love.event.quit()
  elseif key == "space" and game.source then
    game.source:stop()
    game.source:play()
  end
end

function love.draw()
  local g = love.graphics
  local w, h = g.getDimensions()
  g.clear(0.08, 0.08, 0.12)
  -- The spinning bar: it keeps turning whatever the network does.
  g.push()
  g.translate(w / 2, h / 2 - 30)
  g.rotate(game.angle)
  g.setColor(0.95, 0.55, 0.2)
  g.rectangle("fill", -70, -8, 140, 16, 8, 8)
  g.pop()
  g.setColor(1, 1, 1)
  local line = "status: " .. game.status
  if game.progress and not game.sound then line = line .. (" (%d%%)"):format(math.floor(game.progress * 100)) end
  g.printf(line, 0, h / 2 + 40, w, "center")
  if game.sound then
    g.printf(("%s\n%.1f s, %d Hz - space plays it again"):format(game.path, game.sound:getDuration(),
      game.sound:getSampleRate()), 0, h / 2 + 70, w, "center")
  end
  if game.error then
    g.setColor(1, 0.4, 0.4)
    g.printf(game.error, 20, h - 80, w - 40, "center")
  end
end
