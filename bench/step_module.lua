-- Responsiveness: NJOBS jobs in flight (submit, poll every INTERVAL s, download the audio
-- into OUT_DIR; with OUT_DIR "-" no download), driven the way a game drives them:
-- music.step(0) once per iteration of the host's loop, here a loop that sleeps 1 ms between
-- steps. Every step(0) is timed.
-- usage: lua step_module.lua API_URL NJOBS INTERVAL PARAMS_JSON OUT_DIR|-
local api, njobs, interval, params_path, out_dir = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4], arg[5]
local download = out_dir ~= "-"

local socket = require "socket"
local cjson = require "cjson"
local music = require "aimlmusic"
local now = require("aimlmusic.core").now

local f = assert(io.open(params_path, "rb"))
local params = cjson.decode(f:read("*a"))
f:close()

local client = assert(music.new { api_key = "test-key", base_url = api })
local ok, failed, first_error = 0, 0, nil
for i = 1, njobs do
  music.spawn(function()
    local output = download and ("%s/%d.mp3"):format(out_dir, i) or nil
    local st, err = client:generate(params, { interval = interval, output = output })
    if st and st.status == "completed" and (not download or (st.bytes and st.bytes > 0)) then
      ok = ok + 1
    else
      failed = failed + 1
      first_error = first_error or tostring(err)
    end
  end)
end

-- Wall time is what a frame sees; CPU time (os.clock) tells work from waiting or preemption.
local durations, cpu, n, pending = {}, {}, 0, njobs
local sleep, clock = socket.sleep, os.clock
while pending > 0 do
  local c0, t0 = clock(), now()
  pending = music.step(0)
  local t1, c1 = now(), clock()
  n = n + 1
  durations[n], cpu[n] = t1 - t0, c1 - c0
  sleep(0.001)
end

local function sorted_copy(list)
  local s = {}
  for i = 1, n do s[i] = list[i] end
  table.sort(s)
  return s
end
local function pct(s, p) return s[math.max(1, math.ceil(p * n))] end
local max_i, max_after = 1, 0
for i = 2, n do
  if durations[i] > durations[max_i] then max_i = i end
  -- The first step starts every job at once (NJOBS submits).
  if durations[i] > max_after then max_after = durations[i] end
end
local sw, sc = sorted_copy(durations), sorted_copy(cpu)
print(("steps %d max_ms %.4f p99_ms %.4f p50_ms %.4f first_ms %.4f max_at %d max_after_first_ms %.4f "
  .. "max_step_cpu_ms %.4f cpu_max_ms %.4f cpu_p99_ms %.4f ok %d failed %d")
  :format(n, sw[n] * 1e3, pct(sw, 0.99) * 1e3, pct(sw, 0.5) * 1e3, durations[1] * 1e3, max_i, max_after * 1e3,
    cpu[max_i] * 1e3, sc[n] * 1e3, pct(sc, 0.99) * 1e3, ok, failed))
if first_error then
  io.stderr:write("first error: ", first_error, "\n")
  os.exit(1)
end
