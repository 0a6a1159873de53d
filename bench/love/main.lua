-- LÖVE: music.step(0) once per frame (love.update) with NJOBS jobs in flight (submit, poll,
-- download into DIR), each call timed with love.timer.getTime (wall: what a frame sees) and
-- with this thread's CPU clock (work done, as opposed to being preempted on a busy machine).
-- With AIMLMUSIC_POLLFD=1 the game asks for music.pollfd() (the host would watch it; step
-- also re-arms its timer). After each step the game runs a fixed 0.3 ms of its own Lua, timed
-- the same way: the machine's noise, measured in the same frames. Writes one line of figures
-- to AIMLMUSIC_OUT and quits.
-- luacheck: globals love.load love.update
local music = require "aimlmusic"
local ffi = require "ffi"

ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } aimlmusic_bench_ts;
int clock_gettime(int clk, aimlmusic_bench_ts *ts);
]]
local CLOCK_THREAD_CPUTIME_ID = 3 -- Linux
local ts = ffi.new("aimlmusic_bench_ts")
local function thread_cpu()
  ffi.C.clock_gettime(CLOCK_THREAD_CPUTIME_ID, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local api, njobs = os.getenv("AIMLMUSIC_API"), tonumber(os.getenv("AIMLMUSIC_NJOBS") or "100")
local out_path, dir = os.getenv("AIMLMUSIC_OUT"), os.getenv("AIMLMUSIC_DIR")
local durations, cpus, n, left, failed = {}, {}, 0, njobs, 0

-- The reference: a fixed piece of the game's own work, timed in the same frames the same way.
-- What its longest call takes over its median is what the machine adds to any call.
local REF_MS = 0.3
local ref_iters, refs = 1000, {}
local function ref_work(iters)
  local x = 0
  for i = 1, iters do x = x + i % 7 end
  return x
end
local function calibrate()
  for _ = 1, 20 do
    local t0 = love.timer.getTime()
    ref_work(ref_iters)
    local dt = love.timer.getTime() - t0
    ref_iters = math.max(1000, math.floor(ref_iters * REF_MS / 1000 / math.max(dt, 1e-6)))
  end
end

local function write(line)
  local f = assert(io.open(out_path, "w"))
  f:write(line, "\n")
  f:close()
end

function love.load()
  calibrate()
  if os.getenv("AIMLMUSIC_POLLFD") == "1" then assert(music.pollfd()) end
  local client = assert(music.new { api_key = "test-key", base_url = api, poll_interval = 0.5 })
  local params = {
    model = "minimax/music-2.0",
    prompt = "A calm and soothing instrumental with gentle piano and soft strings.",
    lyrics = "[Verse]\nStreetlights flicker, the night breeze sighs\n[Chorus]\nIn this small cafe, I find my way",
  }
  for i = 1, njobs do
    music.spawn(function()
      local st = client:generate(params, { output = ("%s/love-%d.mp3"):format(dir, i), overwrite = true })
      if not st then failed = failed + 1 end
      left = left - 1
    end)
  end
end

function love.update()
  local t0, c0 = love.timer.getTime(), thread_cpu()
  music.step(0)
  local c1, t1 = thread_cpu(), love.timer.getTime()
  n = n + 1
  durations[n], cpus[n] = t1 - t0, c1 - c0
  local r0 = love.timer.getTime()
  ref_work(ref_iters)
  refs[n] = love.timer.getTime() - r0
  if left == 0 then
    local first = durations[1]
    local s, c = {}, {}
    for i = 2, n do s[#s + 1], c[#c + 1] = durations[i], cpus[i] end
    table.sort(s)
    table.sort(c)
    local p99 = math.max(1, math.ceil(0.99 * #s))
    table.sort(refs)
    write(("steps %d max_ms %.4f max_after_first_ms %.4f p99_ms %.4f first_ms %.4f cpu_max_ms %.4f cpu_p99_ms %.4f"
      .. " failed %d ref_median_ms %.4f ref_p99_ms %.4f ref_max_ms %.4f"):format(n, math.max(first, s[#s]) * 1e3,
      s[#s] * 1e3, s[p99] * 1e3, first * 1e3, math.max(cpus[1], c[#c]) * 1e3, c[p99] * 1e3, failed,
      refs[math.ceil(#refs / 2)] * 1e3, refs[math.max(1, math.ceil(0.99 * #refs))] * 1e3, refs[#refs] * 1e3))
    love.event.quit(0)
  end
end
