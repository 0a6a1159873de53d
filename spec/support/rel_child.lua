-- spec/support/rel_child.lua: a client process for resume_spec.lua and downloads_spec.lua, to be
-- killed with SIGKILL or run out of disk space. It reports on stdout, one line per event, flushed at once.
--
--   <lua> spec/support/rel_child.lua generate API_URL KEY JOURNAL OUTPUT
--     generates with a journal: "status <status>" on each status change, "progress <bytes>"
--     once bytes are on disk, then "result ok" or "result <kind> <code>"
--   <lua> spec/support/rel_child.lua download API_URL KEY URL OUTPUT
--     downloads URL to OUTPUT: "result ok <bytes>" or "result <kind> <code> <message>"

local music = require "aimlmusic"

local PARAMS = {
  model = "minimax/music-2.0",
  prompt = "A calm and soothing instrumental with gentle piano and soft strings.",
  lyrics = "[Verse]\nStreetlights flicker, the night breeze sighs\n[Chorus]\nIn this small cafe, I find my way",
  audio_setting = { format = "wav" },
}

local function say(...)
  local t = {}
  for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
  io.stdout:write(table.concat(t, " "), "\n")
  io.stdout:flush()
end

local mode, api_url, key = arg[1], arg[2], arg[3]
local told = false
local function on_progress(done)
  if done > 0 and not told then
    told = true
    say("progress", done)
  end
end

if mode == "generate" then
  local client = assert(music.new { api_key = key, base_url = api_url, journal = arg[4], poll_interval = 0.05 })
  local st, err = client:generate(PARAMS, {
    output = arg[5],
    on_status = function(s) say("status", s.status) end,
    on_progress = on_progress,
  })
  say("result", st and "ok" or err.kind, st and "" or tostring(err.code))
elseif mode == "download" then
  local client = assert(music.new { api_key = key, base_url = api_url, max_retries = 1 })
  local info, err = client:download(arg[4], arg[5], { on_progress = on_progress })
  if info then
    say("result", "ok", info.bytes)
  else
    say("result", err.kind, tostring(err.code), err.message)
  end
else
  io.stderr:write("rel_child.lua: unknown mode ", tostring(mode), "\n")
  os.exit(2)
end
