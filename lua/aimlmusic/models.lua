--- The model table: what each model accepts and what its answers carry, as data. It is the one
-- copy of the rules: aimlmusic.validate checks and encodes requests against it (aimlmusic.schema
-- checks the table itself when the module loads), the core maps answers through it, and the
-- mock server validates requests against it.
-- The limits are those of the provider's OpenAPI files (spec/fixtures/provider-api/).
--
-- A model is { fields = {field...}, response = {mapping...}, format = "mp3" | "wav" | "pcm",
-- doc = "..." }: `format` is the audio the model returns when the request does not choose one.
--
-- A field is a table with these keys (anything else is an error when the table loads):
--    name            the parameter's name, as users write it
--    type            "string" | "integer" | "number" | "boolean" | "object"
--    doc             one line for the README and the command line
--    required        true when the parameter must be given
--    required_unless {names of boolean fields}: required unless one of them is true
--    min_length, max_length   string length, counted in Unicode code points
--    min, max        value range of an integer or number
--    enum            the allowed values
--    default         sent when the user gives none (inside an object: when the object is given)
--    alias           another name users may write
--    wire            {names sent to the service}; default {name}
--    fields          an object's own fields
--    format = "url"  a string that must be an http(s) URL
--    transform = "data_uri", max_bytes = N
--                    a string that is an http(s) URL or a data: URI, sent as it is, or the path
--                    of a local audio file (mp3, wav, flac, ogg, m4a), read and sent as
--                    data:<mime>;base64,...; the audio may not exceed max_bytes
--    duration = "s" | "ms"    this field sets the length of the audio, in that unit
--
-- A response mapping is { from = "extra_info.music_duration", to = "duration_ms" }: the value
-- at that path of a status answer (a number or a string) is copied to st[to]. Whole numbers
-- become integers.
--
-- Add a model by adding an entry: nothing else changes (see doc/models.md, "Adding a model").
-- @module aimlmusic.models

local MB = 1000 * 1000

-- The MiniMax models describe the audio in extra_info.
local EXTRA_INFO = {
  { from = "extra_info.music_duration", to = "duration_ms" },
  { from = "extra_info.music_sample_rate", to = "sample_rate" },
  { from = "extra_info.music_channel", to = "channels" },
  { from = "extra_info.bitrate", to = "bitrate" },
  { from = "extra_info.music_size", to = "size" },
}

-- The other models describe the file in audio_file.
local AUDIO_FILE = {
  { from = "audio_file.content_type", to = "content_type" },
  { from = "audio_file.file_name", to = "file_name" },
  { from = "audio_file.file_size", to = "size" },
}

-- rate_name is how the model's own file spells the sample rate: music-2.0, 1.5 and 2.6 say
-- audio_sample_rate, music-cover says sample_rate. Users may write either for any model; the
-- service gets its own spelling only (the seeds' two models used to get both, which a server
-- that refuses unknown properties would reject).
local function audio_setting(rate_name)
  return {
    name = "audio_setting", type = "object", doc = "the audio returned: format, sample rate, bitrate",
    fields = {
      -- The seeds' schema requires format once audio_setting is present: the default is sent.
      { name = "format", type = "string", enum = { "mp3", "wav", "pcm" }, default = "mp3" },
      { name = "sample_rate", type = "integer", enum = { 16000, 24000, 32000, 44100 }, default = 44100,
        alias = "audio_sample_rate", wire = { rate_name }, doc = "Hz" },
      { name = "bitrate", type = "integer", enum = { 32000, 64000, 128000, 256000 }, default = 256000,
        doc = "bits per second" },
    },
  }
end

local PROMPT_DOC = "style, mood and scenario of the music"
local LYRICS_DOC = "the lyrics; \\n between lines, tags such as [Verse] and [Chorus]"

local function song(prompt_max)
  return {
    doc = "a song with lyrics",
    format = "mp3",
    fields = {
      { name = "prompt", type = "string", required = true, min_length = 10, max_length = prompt_max,
        doc = PROMPT_DOC },
      { name = "lyrics", type = "string", required = true, min_length = 10, max_length = 3000,
        doc = LYRICS_DOC },
      audio_setting("audio_sample_rate"),
    },
    response = EXTRA_INFO,
  }
end

return {
  ["minimax/music-2.0"] = song(2000),
  ["minimax/music-1.5"] = song(300),

  ["minimax/music-2.6"] = {
    doc = "a song, or an instrumental",
    format = "mp3",
    fields = {
      -- The schema gives only maxLength; the descriptions say 10-2000 and 10-3000 characters,
      -- and that lyrics are needed unless is_instrumental or lyrics_optimizer is true. The
      -- stricter descriptions are followed: a request they refuse would fail at the provider.
      { name = "prompt", type = "string", min_length = 10, max_length = 2000, doc = PROMPT_DOC },
      { name = "lyrics", type = "string", min_length = 10, max_length = 3000,
        required_unless = { "is_instrumental", "lyrics_optimizer" }, doc = LYRICS_DOC },
      audio_setting("audio_sample_rate"),
      { name = "lyrics_optimizer", type = "boolean", default = false,
        doc = "write lyrics from the prompt when none are given" },
      { name = "is_instrumental", type = "boolean", default = false, doc = "music without vocals" },
    },
    response = EXTRA_INFO,
  },

  ["minimax/music-cover"] = {
    doc = "a cover of a reference song",
    format = "mp3",
    fields = {
      { name = "prompt", type = "string", required = true, min_length = 10, max_length = 2000,
        doc = PROMPT_DOC },
      -- "A URL or a Base64-encoded of the reference audio ... Size: max 50 MB".
      { name = "reference_audio_url", type = "string", required = true, transform = "data_uri",
        max_bytes = 50 * MB, doc = "the song to cover: an http(s) URL, a data: URI or a local file" },
      { name = "lyrics", type = "string", min_length = 10, max_length = 3000, doc = LYRICS_DOC },
      audio_setting("sample_rate"),
    },
    response = EXTRA_INFO,
  },

  ["google/lyria2"] = {
    doc = "instrumental music",
    format = "wav",
    fields = {
      -- "Maximum 600 characters", says the description; the schema gives no limit.
      { name = "prompt", type = "string", required = true, max_length = 600,
        doc = "a description of the music" },
      { name = "negative_prompt", type = "string", doc = "what to leave out" },
      { name = "seed", type = "integer", min = 0, doc = "for a repeatable result" },
    },
    response = AUDIO_FILE,
  },

  ["stable-audio"] = {
    doc = "a sound clip or a short piece",
    format = "wav",
    fields = {
      { name = "prompt", type = "string", required = true, doc = "a description of the audio" },
      { name = "seconds_start", type = "integer", min = 1, max = 47,
        doc = "start point of the clip, in seconds" },
      { name = "seconds_total", type = "integer", min = 1, max = 47, default = 30, duration = "s",
        doc = "length of the clip, in seconds" },
      { name = "steps", type = "integer", min = 1, max = 1000, default = 100,
        doc = "denoising steps" },
    },
    response = AUDIO_FILE,
  },

  ["elevenlabs/eleven_music"] = {
    doc = "a song from a description (lyrics may be in the prompt)",
    format = "mp3",
    fields = {
      { name = "prompt", type = "string", required = true, max_length = 2000,
        doc = "genre, mood, instruments, vocals, structure, lyrics" },
      { name = "music_length_ms", type = "integer", min = 10000, max = 300000, default = 10000,
        duration = "ms", doc = "length of the song, in milliseconds (not always respected)" },
    },
    response = AUDIO_FILE,
  },

  -- The legacy model: its reference is a URL of a .wav or .mp3 song longer than 15 seconds.
  ["minimax-music"] = {
    doc = "a song in the style of a reference (legacy)",
    format = "mp3",
    fields = {
      -- "Maximum 600 characters", says the description.
      { name = "prompt", type = "string", required = true, max_length = 600,
        doc = "the lyrics; ## at both ends adds accompaniment" },
      { name = "reference_audio_url", type = "string", required = true, format = "url",
        doc = "an http(s) URL of a .wav or .mp3 song with vocals, over 15 s" },
    },
    response = AUDIO_FILE,
  },
}
