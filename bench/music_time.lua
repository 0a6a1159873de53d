-- Time to music: how long after a job completes its file is on disk, and how many status
-- requests each job costs, for the seeds' loop (a poll every 15 s, as music-2.0's example; every
-- 10 s, as music-1.5's) and for this library's default schedule, on the same jobs.
--
-- Job durations are drawn from 50-90 s (seeded, the same list for every strategy) and the whole
-- run is time-scaled by SCALE (0.1: a 70 s job takes 7 s): the mock's durations, the seeds'
-- intervals and the library's starting guess (expected_seconds) alike; figures are printed in
-- unscaled seconds. Two waves of NJOBS jobs per strategy: the first meets a fresh client
-- (nothing learned), the second the same client after the first wave.
-- usage: lua music_time.lua API_URL NJOBS SCALE OUT_DIR   (the mock's control channel on API_URL)
local api, njobs, scale, out_dir = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4]

local http = require "socket.http"
local ltn12 = require "ltn12"
local music = require "aimlmusic"
local now = require("aimlmusic.core").now
local sleep = require("aimlmusic.task").sleep

local function mock_config(t)
  local body = ('{"duration":%.6f}'):format(t.duration)
  local ok, code = http.request {
    url = api .. "/_mock/config", method = "POST", source = ltn12.source.string(body),
    headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#body) },
    sink = ltn12.sink.null(),
  }
  assert(ok and code == 200, "mock config failed: " .. tostring(code))
end

local PARAMS = {
  model = "minimax/music-2.0",
  prompt = "A calm and soothing instrumental with gentle piano and soft strings.",
  lyrics = "[Verse]\nStreetlights flicker, the night breeze sighs\n[Chorus]\nIn this small cafe, I find my way",
}

-- Each strategy has its own client; status requests are counted per client.
local function counting_client(opts)
  local c = assert(music.new(opts))
  c.status_count = 0
  local status = c.status
  c.status = function(self, ...)
    self.status_count = self.status_count + 1
    return status(self, ...)
  end
  return c
end

local base = { api_key = "test-key", base_url = api }
local function with(extra)
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(extra) do t[k] = v end
  return t
end

-- The seeds' loop: poll, and while pending sleep `interval` and poll again; then download.
local function seeds_follow(client, job, interval, path)
  local st = assert(client:status(job.id))
  while st.status == "queued" or st.status == "generating" do
    sleep(interval)
    st = assert(client:status(job.id))
  end
  return assert(client:download(st, path, { overwrite = true }))
end

local strategies = {
  { name = "seeds15", label = "seeds' loop, a poll every 15 s (music-2.0's example)",
    client = counting_client(base), follow = function(c, job, path) return seeds_follow(c, job, 15 * scale, path) end },
  { name = "seeds10", label = "seeds' loop, a poll every 10 s (music-1.5's example)",
    client = counting_client(base), follow = function(c, job, path) return seeds_follow(c, job, 10 * scale, path) end },
  { name = "default", label = "aimlmusic, default schedule",
    client = counting_client(with { expected_seconds = { 45 * scale, 60 * scale } }),
    follow = function(c, job, path)
      local st = assert(c:wait(job))
      return assert(c:download(st, path, { overwrite = true }))
    end },
  { name = "interval5", label = "aimlmusic, poll_interval = 5 (the former default)",
    client = counting_client(with { poll_interval = 5 * scale }),
    follow = function(c, job, path)
      local st = assert(c:wait(job))
      return assert(c:download(st, path, { overwrite = true }))
    end },
}

math.randomseed(20261122)
local results = {}
for wave = 1, 2 do
  local durations = {}
  for i = 1, njobs do durations[i] = 50 + 40 * math.random() end
  for _, s in ipairs(strategies) do
    results[s.name .. wave] = { delay = 0, n = 0, requests0 = s.client.status_count }
  end
  music.spawn(function()
    for i = 1, njobs do
      for _, s in ipairs(strategies) do
        mock_config { duration = durations[i] * scale }
        local job = assert(s.client:submit(PARAMS))
        local completes = now() + durations[i] * scale
        music.spawn(function()
          s.follow(s.client, job, ("%s/%s-%d-%d.mp3"):format(out_dir, s.name, wave, i))
          local r = results[s.name .. wave]
          r.delay, r.n = r.delay + (now() - completes), r.n + 1
        end)
      end
      sleep(0.5 * scale) -- arrivals spread out a little, as users' would be
    end
  end)
  music.run()
  for _, s in ipairs(strategies) do
    local r = results[s.name .. wave]
    r.requests = s.client.status_count - r.requests0
  end
end

for wave = 1, 2 do
  for _, s in ipairs(strategies) do
    local r = results[s.name .. wave]
    print(("music.%s.%d jobs %d delay_s %.3f requests_per_job %.3f"):format(s.name, wave, r.n,
      r.delay / r.n / scale, r.requests / r.n))
  end
end
