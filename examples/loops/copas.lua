-- Copas drives aimlmusic: one Copas thread waits on music.pollfd() as Copas waits on a socket,
-- and runs music.step(0) whenever it is readable. The descriptor also turns readable when a
-- timer of the library is due, so no timeout is needed.
--   AIMLAPI_KEY=... lua examples/loops/copas.lua out.mp3
local music = require "aimlmusic"
local copas = require "copas"

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

-- What Copas takes for a socket: getfd for its select, receive that says "timeout" (not
-- ready yet: wait until readable) or returns once every task is done.
local fd = assert(music.pollfd())
local library = {
  getfd = function() return fd end,
  settimeout = function() end,
  close = function() end, -- Copas closes a thread's socket when the thread ends
  receive = function()
    if music.step(0) == 0 then return "done" end
    return nil, "timeout"
  end,
}
copas.addthread(function() copas.receive(library) end)
while not job:done() do copas.step() end -- or copas.loop() beside the application's sockets
local st, err = job:result()
print(st and ("saved " .. st.path) or ("failed: " .. tostring(err)))
