-- Every model against the mock server, over real HTTP on loopback: validated, encoded,
-- submitted, completed and downloaded, with the answer mapped to st per model; local audio
-- files sent as data: URIs (compared byte for byte by the mock), and refused before any
-- request when they cannot be sent.

local music = require "aimlmusic"
local response = require "aimlmusic.response"
local validate = require "aimlmusic.validate"
local fixture = require "support.fixture"
local util = require "support.util"
local http = require "socket.http"
local ltn12 = require "ltn12"
local json = require("cjson").new()

local base64_decode = require("aimlmusic.mock").base64_decode

-- Written out here: which models describe the audio in extra_info, which in audio_file.
local EXTRA_INFO = { "minimax/music-2.0", "minimax/music-1.5", "minimax/music-2.6", "minimax/music-cover" }
local AUDIO_FILE = { "google/lyria2", "stable-audio", "elevenlabs/eleven_music", "minimax-music" }

local REQUESTS = {
  ["minimax/music-2.0"] = { prompt = "Lo-fi pop, slow intro", lyrics = "[Verse]\nStreetlights flicker" },
  ["minimax/music-1.5"] = { prompt = "Lo-fi pop, slow intro", lyrics = "[Verse]\nStreetlights flicker",
    audio_setting = { format = "wav", sample_rate = 24000 } },
  ["minimax/music-2.6"] = { prompt = "Ambient synth pads, slow", is_instrumental = true },
  ["minimax/music-cover"] = { prompt = "A jazz cover, brushes", reference_audio_url = "https://example.com/a.mp3",
    audio_setting = { format = "pcm", sample_rate = 16000 } },
  ["google/lyria2"] = { prompt = "A calm piano piece", negative_prompt = "drums", seed = 7 },
  ["stable-audio"] = { prompt = "Rain on a tin roof", seconds_total = 3, steps = 50 },
  ["elevenlabs/eleven_music"] = { prompt = "Solo piano in C minor, 90 BPM", music_length_ms = 12000 },
  ["minimax-music"] = { prompt = "##Hello there##", reference_audio_url = "https://example.com/ref.wav" },
}

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- Bytes that sniff as the given kind, followed by n pseudo-random bytes.
local HEADS = {
  wav = { "RIFF\36\0\0\0WAVEfmt ", "audio/wav" },
  flac = { "fLaC\0\0\0\34", "audio/flac" },
  ogg = { "OggS\0\2\0\0", "audio/ogg" },
  m4a = { "\0\0\0\32ftypM4A ", "audio/mp4" },
  mp3 = { "ID3\4\0\0\0\0\0\0", "audio/mpeg" },
  mp3frame = { "\255\251\144\100", "audio/mpeg" },
}

local function audio_bytes(kind, n)
  local t = { HEADS[kind][1] }
  local x = n
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    t[i + 1] = string.char(math.floor(x / 65536) % 256)
  end
  return table.concat(t)
end

local function post_raw(mock, body)
  local chunks = {}
  local _, code = http.request {
    url = mock.api_url .. "/v2/generate/audio", method = "POST",
    headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#body),
      authorization = "Bearer " .. mock.key },
    source = ltn12.source.string(body), sink = ltn12.sink.table(chunks),
  }
  return code, json.decode(table.concat(chunks))
end

describe("every model against the mock", function()
  local env = fixture.mock_client { duration = 0.2 }

  for _, list in ipairs({ EXTRA_INFO, AUDIO_FILE }) do
    for _, model in ipairs(list) do
      it(model .. ": validates, submits, completes and downloads, st mapped from its answer", function()
        local p = util.with(REQUESTS[model], { model = model })
        assert.is_true(music.validate(p))
        local out = env.dir .. "/" .. model:gsub("/", "_") .. ".audio"
        local st = assert(env.client:generate(p, { output = out, timeout = 30 }))
        assert.equal("completed", st.status)
        local bytes = util.read_file(out)
        assert.equal(#bytes, st.bytes)
        assert.equal(#bytes, st.size)
        assert.is_number(st.credits_used)
        if list == EXTRA_INFO then
          assert.is_number(st.duration_ms)
          assert.is_number(st.sample_rate)
          assert.is_number(st.channels)
          assert.is_number(st.bitrate)
          assert.is_nil(st.content_type)
          assert.is_table(st.raw.extra_info)
        else
          assert.matches("^audio/", st.content_type)
          assert.matches("%.%w+$", st.file_name)
          assert.is_nil(st.duration_ms)
          assert.is_nil(st.raw.extra_info)
        end
        -- What the mock received went through the same table.
        local body = json.decode(util.select_reqs(env.mock:requests(), "api", "POST")[1].body)
        assert.equal(model, body.model)
        assert.equal(p.prompt, body.prompt)
      end)
    end
  end

  it("stable-audio: the clip lasts seconds_total (a 3 s WAV, 44.1 kHz mono)", function()
    local st = assert(env.client:generate(util.with(REQUESTS["stable-audio"], { model = "stable-audio" }),
      { output = env.dir .. "/clip.wav" }))
    local bytes = util.read_file(env.dir .. "/clip.wav")
    assert.equal("RIFF", bytes:sub(1, 4))
    assert.equal(44 + 3 * 44100 * 2, #bytes)
    assert.equal("audio/wav", st.content_type)
    assert.equal(3, env.mock:jobs()[1].audio_seconds)
  end)

  it("eleven_music: the length follows music_length_ms, its default when not given", function()
    assert(env.client:submit { model = "elevenlabs/eleven_music", prompt = "Solo piano", music_length_ms = 12000 })
    assert(env.client:submit { model = "elevenlabs/eleven_music", prompt = "Solo piano" })
    local jobs = env.mock:jobs()
    assert.equal(12, jobs[1].audio_seconds)
    assert.equal(10, jobs[2].audio_seconds)
    assert.equal(10000, jobs[2].params.music_length_ms)
  end)

  it("music-2.6: an instrumental without lyrics; the mock refuses one without the flag", function()
    assert(env.client:submit { model = "minimax/music-2.6", prompt = "Ambient pads, slow", is_instrumental = true })
    local body = json.decode(util.select_reqs(env.mock:requests(), "api", "POST")[1].body)
    assert.is_true(body.is_instrumental)
    assert.is_nil(body.lyrics)
    local code, err = post_raw(env.mock, json.encode { model = "minimax/music-2.6", prompt = "Ambient pads, slow" })
    assert.equal(400, code)
    assert.same({ "lyrics should not be empty" }, err.message)
    assert.equal(400, err.statusCode)
    assert.is_string(err.requestId)
    code = post_raw(env.mock, json.encode { model = "minimax/music-2.6", prompt = "Ambient pads", lyrics_optimizer = true })
    assert.equal(200, code)
  end)

  it("the mock answers the provider's error shape for each rule of the table", function()
    local code, err = post_raw(env.mock, json.encode { model = "stable-audio", prompt = "x", seconds_total = 48,
      steps = 0, seconds_start = 1.5 })
    assert.equal(400, code)
    assert.same({ "seconds_start must be an integer number", "seconds_total must not be greater than 47",
      "steps must not be less than 1" }, err.message)
    code, err = post_raw(env.mock, json.encode { model = "minimax/music-2.6", prompt = "Ambient pads",
      lyrics = "la la la la la", is_instrumental = "yes" })
    assert.equal(400, code)
    assert.same({ "is_instrumental must be a boolean value" }, err.message)
    code, err = post_raw(env.mock, json.encode { model = "minimax-music", prompt = "x", reference_audio_url = "a.wav" })
    assert.equal(400, code)
    assert.same({ "reference_audio_url must be a URL address" }, err.message)
    code, err = post_raw(env.mock, json.encode { model = "minimax/music-cover", prompt = "A jazz cover",
      reference_audio_url = "data:audio/wav;base64,%%%%" })
    assert.equal(400, code)
    assert.same({ "reference_audio_url must be valid base64" }, err.message)
  end)

  describe("the answer mapped to st by the model named in the id", function()
    local BODY = {
      status = "completed", audio_file = { url = "https://cdn.example.com/a.wav", content_type = "audio/wav",
        file_name = "a.wav", file_size = 1234 },
      extra_info = { music_duration = 93022, music_sample_rate = 44100, music_channel = 2, bitrate = 256000,
        music_size = 999 },
    }

    local function status_of(id)
      env.mock:fault { method = "GET", json = util.with(BODY, { id = id }) }
      return assert(env.client:status(id))
    end

    it("takes extra_info for a MiniMax model and leaves audio_file's details alone", function()
      local st = status_of("e84c6bd4-bb02-4702-a55d-9b73e170c110:minimax/music-2.0")
      assert.equal(93022, st.duration_ms)
      assert.equal(44100, st.sample_rate)
      assert.equal(2, st.channels)
      assert.equal(256000, st.bitrate)
      assert.equal(999, st.size)
      assert.is_nil(st.content_type)
      assert.is_nil(st.file_name)
    end)

    it("takes audio_file's details for stable-audio and leaves extra_info alone", function()
      local st = status_of("5N4F_QWb5K8rDSHfpUN0S:stable-audio")
      assert.equal("audio/wav", st.content_type)
      assert.equal("a.wav", st.file_name)
      assert.equal(1234, st.size)
      assert.is_nil(st.duration_ms)
      assert.is_nil(st.sample_rate)
    end)

    it("takes whatever any model maps for an id that names no known model", function()
      local st = status_of("no-model-here")
      assert.equal(93022, st.duration_ms)
      assert.equal("audio/wav", st.content_type)
      assert.is_number(st.size)
    end)
  end)

  describe("response.classify with a response mapping", function()
    local function classify(body, map)
      return response.classify("status", 200, json.encode(body), map)
    end

    it("follows dotted paths, makes whole numbers integers and keeps strings", function()
      local st = assert(classify({ id = "x", status = "queued", a = { b = { c = 48000.0 } }, d = "text" },
        { { from = "a.b.c", to = "rate" }, { from = "d", to = "note" } }))
      assert.equal(48000, st.rate)
      assert.equal("48000", tostring(st.rate))
      assert.equal("text", st.note)
    end)

    it("sets nothing for a missing path, a step that is not an object, or a value that is not a number or string",
      function()
      local st = assert(classify({ id = "x", status = "queued", a = 5, b = { c = true }, e = { f = {} } },
        { { from = "a.b", to = "one" }, { from = "b.c", to = "two" }, { from = "nope.x", to = "three" },
          { from = "e.f", to = "four" } }))
      assert.is_nil(st.one)
      assert.is_nil(st.two)
      assert.is_nil(st.three)
      assert.is_nil(st.four)
    end)

    it("reads paths through one object in turn, and a path after them from another", function()
      local st = assert(classify({ id = "x", status = "queued", a = { b = { c = 1, d = 2 }, e = 3 }, f = { g = "h" } },
        { { from = "a.b.c", to = "one" }, { from = "a.b.d", to = "two" }, { from = "a.b.x", to = "none" },
          { from = "a.e", to = "three" }, { from = "f.g", to = "four" }, { from = "a.b.c", to = "again" },
          { from = "f.g.h", to = "deeper" } }))
      assert.same({ 1, 2, 3, "h", 1 }, { st.one, st.two, st.three, st.four, st.again })
      assert.is_nil(st.none)
      assert.is_nil(st.deeper)
    end)

    it("maps nothing without a mapping", function()
      local st = assert(classify(util.with({ id = "x" }, { status = "queued", extra_info = { music_duration = 5 } })))
      assert.is_nil(st.duration_ms)
    end)
  end)

  describe("music-cover from a local file", function()
    it("sends the file as a data: URI that the mock decodes to the same bytes", function()
      local path = env.dir .. "/reference.wav"
      local data = audio_bytes("wav", 70000)
      util.write_file(path, data)
      local p = { model = "minimax/music-cover", prompt = "A jazz cover, brushes", reference_audio_url = path }
      assert.is_true(music.validate(p))
      local job = assert(env.client:submit(p))
      assert.equal(path, p.reference_audio_url, "the caller's table is unchanged")
      local body = json.decode(util.select_reqs(env.mock:requests(), "api", "POST")[1].body)
      assert.equal("data:audio/wav;base64,", body.reference_audio_url:sub(1, 22))
      local input = env.mock:jobs()[1].inputs.reference_audio_url
      assert.equal("audio/wav", input.mime)
      assert.equal(#data, input.size)
      assert.equal(hex(data), input.hex)
      assert(env.client:wait(job, { timeout = 30 }))
    end)

    it("names the MIME type from the first bytes: mp3, wav, flac, ogg, m4a", function()
      for kind, h in pairs(HEADS) do
        local path = env.dir .. "/ref-" .. kind
        local data = audio_bytes(kind, 100)
        util.write_file(path, data)
        local body = json.decode((assert(validate.encode({ model = "minimax/music-cover", prompt = "A jazz cover, brushes",
          reference_audio_url = path }, music.models))))
        local mime, b64 = body.reference_audio_url:match("^data:([^;]+);base64,(.*)$")
        assert.equal(h[2], mime, kind)
        assert.equal(data, base64_decode(b64), kind)
      end
    end)

    it("encodes every length in base64 exactly, across C's read chunks", function()
      for _, n in ipairs({ 0, 1, 2, 3, 4, 5, 49139, 49140, 49141, 98290, 200000 }) do
        local path = env.dir .. "/len.wav"
        local data = audio_bytes("wav", n)
        util.write_file(path, data)
        local body = json.decode((assert(validate.encode({ model = "minimax/music-cover", prompt = "A jazz cover, brushes",
          reference_audio_url = path }, music.models))))
        assert.equal(data, base64_decode(body.reference_audio_url:match("base64,(.*)$")), "length " .. #data)
      end
    end)

    it("sends an http(s) URL and a data: URI as they are", function()
      for _, v in ipairs({ "https://example.com/x.mp3", "data:audio/mpeg;base64,SUQz" }) do
        local body = json.decode((assert(validate.encode({ model = "minimax/music-cover", prompt = "A jazz cover, brushes",
          reference_audio_url = v }, music.models))))
        assert.equal(v, body.reference_audio_url)
      end
    end)

    local function refused_before_any_request(value, want)
      local job, err = env.client:submit { model = "minimax/music-cover", prompt = "A jazz cover, brushes",
        reference_audio_url = value }
      assert.is_nil(job)
      assert.equal("validation", err.kind)
      assert.equal("reference_audio_url", err.fields[1].field)
      assert.truthy(err.fields[1].message:find(want, 1, true), err.fields[1].message)
      assert.equal(0, #env.mock:requests())
      return err
    end

    it("refuses a file over 50 MB before any request; 50 MB exactly is accepted", function()
      local path = env.dir .. "/big.mp3"
      local f = assert(io.open(path, "wb"))
      f:write("ID3\4\0")
      f:seek("set", 50 * 1000 * 1000 - 1)
      f:write("\0")
      f:close()
      assert.is_true(music.validate { model = "minimax/music-cover", prompt = "A jazz cover, brushes",
        reference_audio_url = path })
      f = assert(io.open(path, "ab"))
      f:write("\0")
      f:close()
      refused_before_any_request(path, "more than the limit of 50 MB")
      os.remove(path)
    end)

    it("refuses a missing file, a directory and a file that is not audio, naming the field", function()
      refused_before_any_request(env.dir .. "/no-such-file.wav", "No such file")
      refused_before_any_request(env.dir, "not a regular file")
      util.write_file(env.dir .. "/notes.txt", "just some text, not audio")
      refused_before_any_request(env.dir .. "/notes.txt", "not mp3, wav, flac, ogg or m4a")
      refused_before_any_request("ftp://example.com/a.mp3", "http(s) URL, a data: URI")
      refused_before_any_request("data:audio/wav;base64,abc", "multiple of 4")
      refused_before_any_request("data:text/plain;base64,abcd", "data:audio/")
    end)
  end)
end)
