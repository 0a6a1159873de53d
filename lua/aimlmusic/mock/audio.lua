-- aimlmusic.mock.audio: the audio a completed job serves: a little melody of sine tones,
-- 16-bit mono, as raw PCM or a WAV file, and a fixed MP3 (aimlmusic.mock.mp3) made from it.

local unpack = table.unpack or unpack

local M = {}

M.CONTENT_TYPES = {
  mp3 = "audio/mpeg",
  wav = "audio/wav",
  pcm = "application/octet-stream",
}

-- What the MP3 fixture is (tools/make-mp3-fixture.sh): what a job in mp3 reports.
M.MP3_FACTS = { duration_ms = 2000, sample_rate = 16000, channels = 1, bitrate = 24000 }

local MELODY = { 523.25, 659.25, 783.99, 1046.50, 880.00, 783.99, 659.25, 587.33 }
local NOTE_SECONDS = 0.25
local audio_cache, audio_cache_keys = {}, {}

local function le16(n)
  n = math.floor(n)
  return string.char(n % 256, math.floor(n / 256) % 256)
end

local function le32(n)
  n = math.floor(n)
  return string.char(n % 256, math.floor(n / 256) % 256, math.floor(n / 65536) % 256,
    math.floor(n / 16777216) % 256)
end

local function cached(key, make)
  local v = audio_cache[key]
  if v then return v end
  v = make()
  if #audio_cache_keys >= 8 then
    audio_cache[table.remove(audio_cache_keys, 1)] = nil
  end
  audio_cache[key] = v
  audio_cache_keys[#audio_cache_keys + 1] = key
  return v
end

--- Raw signed 16-bit little-endian mono samples.
function M.pcm(rate, seconds)
  rate = math.floor(rate or 44100)
  seconds = seconds or 2
  local cycle = #MELODY * NOTE_SECONDS
  if seconds > cycle then
    -- Longer audio repeats the melody: each note fades in and out, so the seams are silent.
    return cached("pcm:" .. rate .. ":" .. seconds, function()
      local whole = math.floor(seconds / cycle)
      local rest = seconds - whole * cycle
      local tail = rest * rate >= 1 and M.pcm(rate, rest) or ""
      return M.pcm(rate, cycle):rep(whole) .. tail
    end)
  end
  return cached("pcm:" .. rate .. ":" .. seconds, function()
    local n = math.floor(rate * seconds + 0.5)
    local note_len = math.max(1, math.floor(rate * NOTE_SECONDS))
    local fade = math.max(1, math.floor(rate * 0.01))
    local two_pi = 2 * math.pi
    local out, chunk, ci = {}, {}, 0
    local phase = 0
    for i = 0, n - 1 do
      local note = math.floor(i / note_len)
      local pos = i - note * note_len
      local f = MELODY[note % #MELODY + 1]
      local env = 1
      if pos < fade then
        env = pos / fade
      elseif note_len - pos < fade then
        env = (note_len - pos) / fade
      end
      if n - i < fade then env = math.min(env, (n - i) / fade) end
      phase = phase + two_pi * f / rate
      if phase > two_pi then phase = phase - two_pi end
      local s = (math.sin(phase) * 0.35 + math.sin(2 * phase) * 0.08) * env
      local v = math.floor(s * 32767 + 0.5)
      if v < 0 then v = v + 65536 end
      chunk[ci + 1] = v % 256
      chunk[ci + 2] = math.floor(v / 256)
      ci = ci + 2
      if ci >= 4096 then
        out[#out + 1] = string.char(unpack(chunk, 1, ci))
        ci = 0
      end
    end
    if ci > 0 then out[#out + 1] = string.char(unpack(chunk, 1, ci)) end
    return table.concat(out)
  end)
end

--- A complete RIFF/WAVE file (PCM, 16-bit, mono).
function M.wav(rate, seconds)
  rate = math.floor(rate or 44100)
  seconds = seconds or 2
  return cached("wav:" .. rate .. ":" .. seconds, function()
    local data = M.pcm(rate, seconds)
    return "RIFF" .. le32(36 + #data) .. "WAVE"
      .. "fmt " .. le32(16) .. le16(1) .. le16(1) .. le32(rate) .. le32(rate * 2) .. le16(2) .. le16(16)
      .. "data" .. le32(#data) .. data
  end)
end

--- The MP3 fixture (lua/aimlmusic/mock/mp3.lua, made by tools/make-mp3-fixture.sh).
function M.mp3()
  local data = require("aimlmusic.mock.mp3")
  return data
end

--- The audio of a job: format mp3, wav or pcm.
function M.render(format, rate, seconds)
  if format == "mp3" then return M.mp3() end
  if format == "wav" then return M.wav(rate, seconds) end
  return M.pcm(rate, seconds)
end

return M
