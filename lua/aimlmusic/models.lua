-- The model table: what each model accepts, as data. Lengths count Unicode code points.
-- A field is {name, type = "string" | "integer" | "object", required, min, max, enum,
-- default (sent when the user gives none), alias (another name users may write),
-- wire (the names sent to the service; default: {name})}.
-- Add a model by adding an entry; aimlmusic.core validates and encodes against this table.

local function audio_setting()
  return {
    name = "audio_setting", type = "object", fields = {
      -- The seeds' schema requires format once audio_setting is present; the provider
      -- documents mp3 as its default, so sending it keeps both server revisions right.
      { name = "format", type = "string", enum = { "mp3", "wav", "pcm" }, default = "mp3" },
      -- Later provider documents spell it audio_sample_rate: send both spellings.
      { name = "sample_rate", type = "integer", enum = { 16000, 24000, 32000, 44100 },
        alias = "audio_sample_rate", wire = { "sample_rate", "audio_sample_rate" } },
      { name = "bitrate", type = "integer", enum = { 32000, 64000, 128000, 256000 } },
    },
  }
end

local function music_model(prompt_max)
  return {
    fields = {
      { name = "prompt", type = "string", required = true, min = 10, max = prompt_max },
      { name = "lyrics", type = "string", required = true, min = 10, max = 3000 },
      audio_setting(),
    },
  }
end

return {
  ["minimax/music-2.0"] = music_model(2000),
  ["minimax/music-1.5"] = music_model(300),
}
