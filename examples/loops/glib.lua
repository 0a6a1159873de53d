-- GLib's main loop (through lgi) drives aimlmusic: a watch on music.pollfd() runs
-- music.step(0) whenever it is readable; the descriptor also wakes for the library's timers.
--   AIMLAPI_KEY=... lua examples/loops/glib.lua out.mp3
local music = require "aimlmusic"
local GLib = require("lgi").GLib

-- AIMLMUSIC_POLL_INTERVAL (seconds) overrides the status poll schedule, as the specs do.
local client = assert(music.new { poll_interval = tonumber(os.getenv("AIMLMUSIC_POLL_INTERVAL") or "") })
local output = arg[1] or "track.mp3"
local main = GLib.MainLoop()
local job = music.spawn(function()
  return client:generate({
    model = "minimax/music-2.0",
    prompt = "A calm and soothing instrumental with gentle piano and soft strings.",
    lyrics = "[Verse]\nStreetlights flicker, the night breeze sighs\n[Chorus]\nIn this small cafe, I find my way",
  }, { output = output })
end)

local fd = assert(music.pollfd())
GLib.unix_fd_add_full(GLib.PRIORITY_DEFAULT, fd, GLib.IOCondition.IN, function()
  if music.step(0) > 0 then return true end -- keep watching
  main:quit()
  return false
end)
main:run()
local st, err = job:result()
print(st and ("saved " .. st.path) or ("failed: " .. tostring(err)))
