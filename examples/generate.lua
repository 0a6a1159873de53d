-- Generate a track from a prompt and lyrics, showing each status change and a download
-- progress bar, then print where the file is.
--
--   AIMLAPI_KEY=... lua5.4 examples/generate.lua [--output track.mp3] [--model minimax/music-2.0]
--       [--prompt "..."] [--lyrics-file song.txt] [--format mp3|wav|pcm] [--interval seconds]
--       [--overwrite]
--
-- AIMLAPI_BASE_URL points it at another server, such as the mock (see the README).

local music = require "aimlmusic"

local args = {
  output = "track.mp3",
  model = "minimax/music-2.0",
  prompt = "Warm lo-fi hip hop with soft piano, vinyl crackle and a slow, steady beat.",
  lyrics = table.concat({
    "[Verse]",
    "Streetlights flicker, the night breeze sighs",
    "Shadows stretch as I walk alone",
    "[Chorus]",
    "Pushing the wooden door, the aroma spreads",
    "In this small cafe, I find my way",
  }, "\n"),
  interval = nil,
}

local i = 1
while i <= #arg do
  local flag, value = arg[i], arg[i + 1]
  if flag == "--overwrite" then
    args.overwrite = true
    i = i + 1
  elseif flag == "--lyrics-file" then
    local f = assert(io.open(value, "rb"))
    args.lyrics = f:read("*a")
    f:close()
    i = i + 2
  elseif flag:match("^%-%-") and value then
    args[flag:sub(3)] = value
    i = i + 2
  else
    io.stderr:write("unknown argument: ", flag, "\n")
    os.exit(2)
  end
end

local client, err = music.new()
if not client then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

local params = { model = args.model, prompt = args.prompt, lyrics = args.lyrics }
if args.format then params.audio_setting = { format = args.format } end

-- Refuse bad input before anything is paid for.
local ok, verr = music.validate(params)
if not ok then
  io.stderr:write(tostring(verr), "\n")
  os.exit(1)
end

local started = os.time()
local function bar(done, total)
  local width = 30
  if total and total > 0 then
    local filled = math.floor(width * done / total)
    io.write(("\r  downloading [%s%s] %3d%%  %d bytes"):format(
      ("#"):rep(filled), ("."):rep(width - filled), math.floor(100 * done / total), done))
  else
    io.write(("\r  downloading %d bytes"):format(done))
  end
  io.flush()
end

print(("Generating with %s at %s ..."):format(params.model, client.base_url))
local st, gerr = client:generate(params, {
  output = args.output,
  overwrite = args.overwrite,
  interval = args.interval and tonumber(args.interval),
  on_status = function(s)
    print(("  [%3ds] %s  %s"):format(os.time() - started, s.status, s.id))
  end,
  on_progress = bar,
})
io.write("\n")
if not st then
  io.stderr:write(tostring(gerr), "\n")
  if gerr.id then io.stderr:write("The job id is ", gerr.id, ": wait for it or download it again later.\n") end
  os.exit(1)
end
print(("Done: %s (%d bytes, %.1f s of audio, %s Hz)"):format(
  st.path, st.bytes, (st.duration_ms or 0) / 1000, tostring(st.sample_rate or "?")))
