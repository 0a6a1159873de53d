-- A plain poll loop drives aimlmusic: wait until music.pollfd() is readable or
-- music.timeout() passes, then music.step(0). Here the wait is LuaSocket's select, which
-- watches any object with a getfd method; any poll/select/epoll binding does the same.
--   AIMLAPI_KEY=... lua examples/loops/poll.lua out.mp3
local music = require "aimlmusic"
local socket = require "socket"

-- AIMLMUSIC_POLL_INTERVAL (seconds) overrides the status poll schedule, as the specs do.
local client = assert(music.new { poll_interval = tonumber(os.getenv("AIMLMUSIC_POLL_INTERVAL") or "") })
local output = arg[1] or "track.mp3"
local job = music.spawn(function()
  return client:generate({
    model = "minimax/music-2.0",
    prompt = "A calm and soothing instrumental with gentle piano and soft strings.",
    lyrics = "[Verse]\nStreetlights flicker, the night breeze sighs\n[Chorus]\nIn this small cafe, I find my way",
  }, { output = output })
end)

local fd = assert(music.pollfd())
local watched = { getfd = function() return fd end }
while music.step(0) > 0 do
  -- Nothing else to do here: sleep in the kernel until the library has work.
  socket.select({ watched }, nil, music.timeout() or -1)
end
local st, err = job:result()
print(st and ("saved " .. st.path) or ("failed: " .. tostring(err)))
