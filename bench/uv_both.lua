-- The luv adapter two ways, on the same jobs: aimlmusic.uv (a luv poll per libcurl socket and
-- libcurl's timer as a luv timer, through curl_multi_socket_action), and a dozen lines on
-- music.pollfd() (one luv poll on the descriptor, one timer for music.timeout(), step(0) on
-- either). NJOBS generate tasks with downloads into OUT_DIR. Prints CPU and wall of each.
-- usage: lua uv_both.lua API_URL NJOBS OUT_DIR uv|pollfd
local api, njobs, out_dir, way = arg[1], tonumber(arg[2]), arg[3], arg[4]

local uv = require "luv"
local music = require "aimlmusic"

local client = assert(music.new { api_key = "test-key", base_url = api, poll_interval = 0.5 })
local params = {
  model = "minimax/music-2.0",
  prompt = "A calm and soothing instrumental with gentle piano and soft strings.",
  lyrics = "[Verse]\nStreetlights flicker, the night breeze sighs\n[Chorus]\nIn this small cafe, I find my way",
}

local left = njobs
local function start_jobs()
  for i = 1, njobs do
    music.spawn(function()
      assert(client:generate(params, { output = ("%s/%s-%d.mp3"):format(out_dir, way, i), overwrite = true }))
      left = left - 1
    end)
  end
end

local cpu0, t0 = os.clock(), uv.hrtime()
if way == "uv" then
  require("aimlmusic.uv").attach(uv)
  start_jobs()
  uv.run()
else
  -- The whole adapter on the descriptor:
  local poll = uv.new_poll(assert(music.pollfd()))
  local timer = uv.new_timer()
  local function step()
    if music.step(0) == 0 then
      poll:stop()
      timer:stop()
      return
    end
    local t = music.timeout()
    if t then timer:start(math.ceil(t * 1000), 0, step) else timer:stop() end
  end
  poll:start("r", step)
  start_jobs()
  step()
  uv.run()
  poll:close()
  timer:close()
  uv.run()
end
assert(left == 0, left .. " jobs left")
print(("way %s jobs %d cpu_s %.3f wall_s %.3f"):format(way, njobs, os.clock() - cpu0, (uv.hrtime() - t0) / 1e9))
