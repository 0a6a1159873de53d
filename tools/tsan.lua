-- The Lua half of `make tsan` (tools/tsan.c). "setup" starts the mock and returns its API URL
-- and key; "worker" runs in each thread's own Lua state.
local mode, api_url, key, index = ...

if mode == "setup" then
  local mock = require("support.mockctl").start()
  mock:reset()
  mock:config { duration = 0.2 }
  return mock.api_url, mock.key
end

local music = require "aimlmusic"
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
-- With a journal: its appends and reads, like the reservations, run on the worker threads.
local client = assert(music.new { api_key = key, base_url = api_url, poll_interval = 0.05,
  journal = dir .. "/jobs.journal" })
local params = {
  model = "minimax/music-2.0",
  prompt = "A calm and soothing instrumental with gentle piano and soft strings, thread " .. index,
  lyrics = "[Verse]\nStreetlights flicker, the night breeze sighs\n[Chorus]\nIn this small cafe",
  audio_setting = { format = "wav" },
}

local results = {}
-- Two full generations, each downloaded and committed on a worker thread.
for i = 1, 2 do
  music.spawn(function()
    results[i] = { client:generate(params, { output = dir .. "/" .. i .. ".wav" }) }
  end)
end
-- One cancelled while its download is in flight.
local st = assert(client:generate(params))
local cancelled = music.spawn(function() return client:download(st, dir .. "/cancelled.wav") end)
music.step(0)
music.step(1)
cancelled:cancel()
music.run()
for i = 1, 2 do
  assert(results[i][1], tostring(results[i][2]))
  assert(results[i][1].bytes > 0)
end
-- One driven by step(0) alone, as a game's frame drives it: its bytes reach the disk through
-- its spool on the worker threads, and its pool jobs come back through the done queue.
local framed = music.spawn(function() return client:download(st, dir .. "/framed.wav") end)
while not framed:done() do music.step(0) end
assert(framed:result())
-- Six cancelled at points of a step(0) loop: in flight, while being moved into place (the move
-- goes on, not waited for) or after; the workers remove what they leave.
local late, n = {}, 0
for i = 1, 6 do late[i] = music.spawn(function() return client:download(st, dir .. "/late" .. i .. ".wav") end) end
while music.step(0) > 0 do
  n = n + 1
  for i = 1, 6 do
    if n == i * 3 then late[i]:cancel() end
  end
end
-- One left in flight for lua_close (the garbage collector) to stop.
music.spawn(function() return client:download(st, dir .. "/left.wav") end)
music.step(0)
music.step(1)
os.execute("rm -rf '" .. dir .. "'")
