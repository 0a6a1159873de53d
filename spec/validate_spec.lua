-- Specs of music.validate (lua/aimlmusic/validate.lua against lua/aimlmusic/models.lua) and of the JSON
-- body aimlmusic.validate.encode builds from the same checks. No network.
-- Limits and enums come from the API references (shared/seeds/): they are written out here, not
-- read from the model table, so that a wrong model table fails these specs.

local music = require("aimlmusic")
local validate = require "aimlmusic.validate"
local models = require("aimlmusic.models")
local json = require("cjson").new()
local util = require("support.util")

local MODELS = {
  { name = "minimax/music-2.0", prompt_max = 2000, lyrics_max = 3000 },
  { name = "minimax/music-1.5", prompt_max = 300, lyrics_max = 3000 },
}
local MIN = 10

local FORMATS = { "mp3", "wav", "pcm" }
local SAMPLE_RATES = { 16000, 24000, 32000, 44100 }
local BITRATES = { 32000, 64000, 128000, 256000 }

local PROMPT = "A calm piano piece with soft strings."
local LYRICS = "[Verse]\nStreetlights flicker, the night breeze sighs\nShadows stretch as I walk alone"

local function params(model, over)
  return util.with({ model = model, prompt = PROMPT, lyrics = LYRICS }, over)
end

local function without(p, key)
  p = util.with(p)
  p[key] = nil
  return p
end

local function field_names(err)
  local names = {}
  for i, f in ipairs(err.fields) do names[i] = f.field end
  return names
end

-- Asserts that validate(p) fails as a validation error and returns the error.
local function invalid(p)
  local ok, err = music.validate(p)
  assert.is_nil(ok)
  assert.is_table(err)
  assert.equal("validation", err.kind)
  assert.is_false(err.retryable)
  assert.is_true(music.is_error(err))
  assert.is_table(err.fields)
  return err
end

-- Asserts that validate(p) fails with exactly one problem, of field `field`; returns its message.
local function one_problem(p, field)
  local err = invalid(p)
  assert.same({ field }, field_names(err))
  local msg = err.fields[1].message
  assert.is_string(msg)
  -- err.message lists the problem too, with its field.
  assert.truthy(err.message:find(field .. ": " .. msg, 1, true),
    ("err.message %q should contain %q"):format(err.message, field .. ": " .. msg))
  return msg, err
end

local function valid(p)
  local ok, err = music.validate(p)
  assert.is_true(ok, err and tostring(err))
  assert.is_nil(err)
end

local function contains(haystack, needle)
  assert.truthy(haystack:find(needle, 1, true), ("%q should contain %q"):format(haystack, needle))
end

local function encode(p)
  local body, err = validate.encode(p, models)
  assert.is_string(body, err and tostring(err))
  return json.decode(body), body
end

local keys = util.keys

-- Strict UTF-8 check in plain Lua (runs on 5.1 to 5.4 and LuaJIT).
local function is_utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local len, lo
    if c < 0x80 then len = 1
    elseif c >= 0xC2 and c <= 0xDF then len, lo = 2, 0x80
    elseif c >= 0xE0 and c <= 0xEF then len, lo = 3, 0x800
    elseif c >= 0xF0 and c <= 0xF4 then len, lo = 4, 0x10000
    else return false end
    if len > 1 then
      if i + len - 1 > n then return false end
      local cp = c % 2 ^ (7 - len)
      for k = 1, len - 1 do
        local cc = s:byte(i + k)
        if cc < 0x80 or cc > 0xBF then return false end
        cp = cp * 64 + (cc - 0x80)
      end
      if cp < lo or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return false end
    end
    i = i + len
  end
  return true
end

-- Invalid UTF-8 sequences, each placed after 10 valid ASCII bytes (so at byte offset 10) and
-- followed by 10 more, except those marked "at the end", which end the string.
local INVALID_UTF8 = {
  { "a 2-byte overlong form of '/'", "\192\175" },
  { "a 2-byte overlong form starting with C1", "\193\191" },
  { "a 3-byte overlong form", "\224\128\175" },
  { "a 4-byte overlong form", "\240\128\128\175" },
  { "a high surrogate U+D800", "\237\160\128" },
  { "a low surrogate U+DFFF", "\237\191\191" },
  { "a code point above U+10FFFF (F4 90)", "\244\144\128\128" },
  { "a lead byte F5", "\245\128\128\128" },
  { "the bytes FE and FF", "\254\255" },
  { "a stray continuation byte 80", "\128" },
  { "a stray continuation byte BF", "\191" },
  { "a 2-byte sequence truncated at the end", "\195", true },
  { "a 3-byte sequence truncated at the end", "\226\130", true },
  { "a 4-byte sequence truncated at the end", "\240\159\142", true },
  { "a 4-byte sequence cut after its lead byte", "\240\159", true },
  { "a 3-byte sequence cut by an ASCII byte", "\226\130abcdefghij" },
  { "a 2-byte lead followed by another lead", "\195\195\169" },
}

local MULTIBYTE = {
  { "2-byte", "\195\169", 2 },         -- é
  { "3-byte", "\226\130\172", 3 },     -- €
  { "4-byte", "\240\159\142\181", 4 }, -- 🎵
}

for _, m in ipairs(MODELS) do
  local M = m.name
  local limits = { prompt = m.prompt_max, lyrics = m.lyrics_max }

  describe("music.validate for " .. M, function()
    it("accepts the example parameters of the API reference", function()
      valid(params(M))
      valid(params(M, { audio_setting = { format = "mp3", sample_rate = 44100, bitrate = 256000 } }))
    end)

    for _, field in ipairs({ "prompt", "lyrics" }) do
      local max = limits[field]

      describe(field .. " length", function()
        it(("accepts a %s of exactly %d characters"):format(field, MIN), function()
          valid(params(M, { [field] = ("a"):rep(MIN) }))
        end)

        it(("accepts a %s of exactly %d characters"):format(field, max), function()
          valid(params(M, { [field] = ("a"):rep(max) }))
        end)

        it(("rejects a %s of %d characters, naming the field and the count"):format(field, MIN - 1),
          function()
          local msg = one_problem(params(M, { [field] = ("a"):rep(MIN - 1) }), field)
          contains(msg, "at least " .. MIN)
          contains(msg, "(got " .. (MIN - 1) .. ")")
        end)

        it(("rejects a %s of %d characters, naming the field and the count"):format(field, max + 1),
          function()
          local msg = one_problem(params(M, { [field] = ("a"):rep(max + 1) }), field)
          contains(msg, "at most " .. max)
          contains(msg, "(got " .. (max + 1) .. ")")
        end)

        it(("rejects an empty %s as too short, not as missing"):format(field), function()
          local msg = one_problem(params(M, { [field] = "" }), field)
          contains(msg, "at least " .. MIN)
          contains(msg, "(got 0)")
        end)

        for _, mb in ipairs(MULTIBYTE) do
          local kind, ch, width = mb[1], mb[2], mb[3]

          it(("counts %s characters once: %d of them pass although they are %d bytes"):format(
            kind, max, max * width), function()
            local s = ch:rep(max)
            assert.equal(max * width, #s)
            valid(params(M, { [field] = s }))
          end)

          it(("rejects %d %s characters with the count in code points"):format(max + 1, kind), function()
            local msg = one_problem(params(M, { [field] = ch:rep(max + 1) }), field)
            contains(msg, "at most " .. max)
            contains(msg, "(got " .. (max + 1) .. ")")
          end)

          it(("accepts %d %s characters and rejects %d, counted in code points"):format(
            MIN, kind, MIN - 1), function()
            valid(params(M, { [field] = ch:rep(MIN) }))
            local msg = one_problem(params(M, { [field] = ch:rep(MIN - 1) }), field)
            contains(msg, "(got " .. (MIN - 1) .. ")")
          end)
        end

        it(("counts a mix of 1- to 4-byte characters: %d pass, %d fail"):format(max, max + 1), function()
          local unit = "a\195\169\226\130\172\240\159\142\181" -- 4 characters, 10 bytes
          local s = unit:rep(math.floor(max / 4)) .. ("b"):rep(max % 4)
          assert.equal(max, #s - 6 * math.floor(max / 4))
          valid(params(M, { [field] = s }))
          local msg = one_problem(params(M, { [field] = s .. "\226\130\172" }), field)
          contains(msg, "(got " .. (max + 1) .. ")")
        end)

        it(("accepts the edge code points U+0000, U+D7FF, U+E000, U+FFFF and U+10FFFF in %s"):format(field),
          function()
            local s = "\0" .. "\237\159\191" .. "\238\128\128" .. "\239\191\191" .. "\244\143\191\191"
            valid(params(M, { [field] = s .. ("a"):rep(MIN - 5) }))
            -- five characters, not fifteen bytes: one short of the minimum fails with 9
            local msg = one_problem(params(M, { [field] = s .. ("a"):rep(MIN - 6) }), field)
            contains(msg, "(got " .. (MIN - 1) .. ")")
          end)
      end)

      describe(field .. " encoding", function()
        for _, bad in ipairs(INVALID_UTF8) do
          it(("rejects a %s containing %s, naming the field and the offset"):format(field, bad[1]), function()
            local s = "abcdefghij" .. bad[2] .. (bad[3] and "" or "klmnopqrst")
            local msg = one_problem(params(M, { [field] = s }), field)
            contains(msg, "not valid UTF-8")
            contains(msg, "offset 10")
          end)
        end
      end)
    end

    describe("audio_setting", function()
      for _, f in ipairs(FORMATS) do
        it("accepts format " .. f, function()
          valid(params(M, { audio_setting = { format = f } }))
        end)
      end
      for _, r in ipairs(SAMPLE_RATES) do
        it("accepts sample_rate " .. r, function()
          valid(params(M, { audio_setting = { format = "mp3", sample_rate = r } }))
          valid(params(M, { audio_setting = { sample_rate = r } }))
        end)
      end
      for _, b in ipairs(BITRATES) do
        it("accepts bitrate " .. b, function()
          valid(params(M, { audio_setting = { format = "wav", bitrate = b } }))
          valid(params(M, { audio_setting = { bitrate = b } }))
        end)
      end

      it("accepts an empty audio_setting (format is optional, mp3 is sent)", function()
        valid(params(M, { audio_setting = {} }))
      end)

      for _, bad in ipairs({ "ogg", "MP3", "", "mp3 " }) do
        it(("rejects format %q, listing the allowed formats"):format(bad), function()
          local msg = one_problem(params(M, { audio_setting = { format = bad } }), "audio_setting.format")
          contains(msg, "must be one of mp3, wav, pcm")
          contains(msg, ("(got %q)"):format(bad))
        end)
      end

      for _, bad in ipairs({ 48000, 22050, 0, -44100 }) do
        it("rejects sample_rate " .. bad .. ", listing the allowed rates", function()
          local msg = one_problem(params(M, { audio_setting = { sample_rate = bad } }),
            "audio_setting.sample_rate")
          contains(msg, "must be one of 16000, 24000, 32000, 44100")
          contains(msg, "(got " .. bad .. ")")
        end)
      end

      for _, bad in ipairs({ 320000, 96000, 256 }) do
        it("rejects bitrate " .. bad .. ", listing the allowed bitrates", function()
          local msg = one_problem(params(M, { audio_setting = { bitrate = bad } }), "audio_setting.bitrate")
          contains(msg, "must be one of 32000, 64000, 128000, 256000")
          contains(msg, "(got " .. bad .. ")")
        end)
      end

      it("accepts integral floats such as 44100.0 and 256000.0", function()
        valid(params(M, { audio_setting = { sample_rate = 44100.0, bitrate = 256000.0 } }))
      end)

      it("rejects a non-integral sample_rate 44100.5 as not an integer", function()
        local msg = one_problem(params(M, { audio_setting = { sample_rate = 44100.5 } }),
          "audio_setting.sample_rate")
        contains(msg, "must be an integer")
        contains(msg, "44100.5")
      end)

      it("rejects a non-integral bitrate 128000.25 as not an integer", function()
        local msg = one_problem(params(M, { audio_setting = { bitrate = 128000.25 } }),
          "audio_setting.bitrate")
        contains(msg, "must be an integer")
      end)

      it("rejects NaN and infinity as sample_rate", function()
        for _, x in ipairs({ 0 / 0, math.huge, -math.huge }) do
          local msg = one_problem(params(M, { audio_setting = { sample_rate = x } }),
            "audio_setting.sample_rate")
          contains(msg, "must be")
        end
      end)

      it("accepts the spelling audio_sample_rate for sample_rate", function()
        valid(params(M, { audio_setting = { audio_sample_rate = 24000 } }))
      end)

      it("checks audio_sample_rate against the sample rates, naming audio_setting.sample_rate", function()
        local msg = one_problem(params(M, { audio_setting = { audio_sample_rate = 48000 } }),
          "audio_setting.sample_rate")
        contains(msg, "must be one of 16000, 24000, 32000, 44100")
      end)

      it("accepts sample_rate and audio_sample_rate given together with the same value", function()
        valid(params(M, { audio_setting = { sample_rate = 32000, audio_sample_rate = 32000 } }))
        valid(params(M, { audio_setting = { sample_rate = 32000, audio_sample_rate = 32000.0 } }))
      end)

      it("rejects sample_rate and audio_sample_rate given together with different values", function()
        local setting = { sample_rate = 32000, audio_sample_rate = 44100 }
        local msg = one_problem(params(M, { audio_setting = setting }),
          "audio_setting.sample_rate")
        contains(msg, "given twice")
        contains(msg, "audio_sample_rate")
      end)
    end)

    describe("types", function()
      it("rejects a number prompt", function()
        local msg = one_problem(params(M, { prompt = 1234567890123 }), "prompt")
        contains(msg, "must be a string (got number)")
      end)

      it("rejects a table lyrics", function()
        local msg = one_problem(params(M, { lyrics = { LYRICS } }), "lyrics")
        contains(msg, "must be a string (got table)")
      end)

      it("rejects a boolean prompt", function()
        local msg = one_problem(params(M, { prompt = true }), "prompt")
        contains(msg, "must be a string (got boolean)")
      end)

      it("rejects a string sample_rate", function()
        local msg = one_problem(params(M, { audio_setting = { sample_rate = "44100" } }),
          "audio_setting.sample_rate")
        contains(msg, "must be an integer (got string)")
      end)

      it("rejects a string bitrate", function()
        local msg = one_problem(params(M, { audio_setting = { bitrate = "256k" } }), "audio_setting.bitrate")
        contains(msg, "must be an integer (got string)")
      end)

      it("rejects a number format", function()
        local msg = one_problem(params(M, { audio_setting = { format = 3 } }), "audio_setting.format")
        contains(msg, "must be a string (got number)")
      end)

      it("rejects audio_setting given as a string", function()
        local msg = one_problem(params(M, { audio_setting = "mp3" }), "audio_setting")
        contains(msg, "must be a table (got string)")
      end)
    end)

    describe("required parameters", function()
      for _, field in ipairs({ "prompt", "lyrics" }) do
        it("rejects a missing " .. field .. " as required", function()
          local msg = one_problem(without(params(M), field), field)
          assert.equal("is required", msg)
        end)
      end

      it("accepts a missing audio_setting", function()
        valid(params(M))
      end)
    end)

    describe("unknown parameters", function()
      it("rejects the typo lyric, naming it", function()
        local p = without(params(M), "lyrics")
        p.lyric = LYRICS
        local err = invalid(p)
        assert.same({
          { field = "lyrics", message = "is required" },
          { field = "lyric", message = "is not a known parameter" },
        }, err.fields)
      end)

      it("rejects an unknown parameter next to valid ones", function()
        local msg = one_problem(params(M, { temperature = 0.7 }), "temperature")
        assert.equal("is not a known parameter", msg)
      end)

      it("rejects audio settings written at the top level", function()
        local err = invalid(params(M, { format = "mp3", sample_rate = 44100 }))
        assert.same({ "format", "sample_rate" }, field_names(err))
      end)

      it("rejects an unknown key inside audio_setting, with its path", function()
        local msg = one_problem(params(M, { audio_setting = { format = "mp3", sample_rte = 44100 } }),
          "audio_setting.sample_rte")
        assert.equal("is not a known parameter", msg)
      end)

      it("rejects model inside audio_setting although model is known at the top level", function()
        one_problem(params(M, { audio_setting = { model = M } }), "audio_setting.model")
      end)

      it("rejects an unknown key of a table whose metatable supplies a known one", function()
        local p = without(params(M), "lyrics")
        p.temperature = 0.7 -- as many keys as known names found, lyrics coming from __index
        setmetatable(p, { __index = { lyrics = LYRICS } })
        assert.equal("is not a known parameter", one_problem(p, "temperature"))
      end)

      it("rejects array items and non-string keys", function()
        local p = params(M)
        p[1] = "extra"
        local err = invalid(p)
        assert.same({ "[1]" }, field_names(err))
        assert.equal("is not a known parameter", err.fields[1].message)
      end)
    end)

    describe("several problems at once", function()
      local expected = {
        { field = "prompt", message = "must be at least 10 characters (got 9)" },
        { field = "lyrics", message = "must be a string (got table)" },
        { field = "audio_setting.format", message = 'must be one of mp3, wav, pcm (got "ogg")' },
        { field = "audio_setting.sample_rate", message = "must be an integer (got string)" },
        { field = "audio_setting.bitrate",
          message = "must be one of 32000, 64000, 128000, 256000 (got 1000)" },
        { field = "audio_setting.bar", message = "is not a known parameter" },
        { field = "audio_setting.foo", message = "is not a known parameter" },
        { field = "alpha", message = "is not a known parameter" },
        { field = "lyric", message = "is not a known parameter" },
        { field = "zeta", message = "is not a known parameter" },
      }

      -- The same parameters, built in a different key order each time.
      local function build(seed)
        local entries = {
          { "model", M }, { "prompt", "too short" }, { "lyrics", {} }, { "lyric", "typo" },
          { "zeta", 1 }, { "alpha", 2 },
          { "audio_setting", { format = "ogg", sample_rate = "44100", bitrate = 1000, foo = 1, bar = 2 } },
        }
        local p = {}
        for i = 1, #entries do
          local e = entries[(i * seed) % #entries + 1]
          p[e[1]] = e[2]
        end
        for i = 1, seed do p["tmp" .. i] = i end -- grow and shrink the hash part
        for i = 1, seed do p["tmp" .. i] = nil end
        return p
      end

      it("lists every problem, known fields in model order then unknown names sorted", function()
        local err = invalid(build(1))
        assert.same(expected, err.fields)
      end)

      it("puts every problem in err.message, in the same order", function()
        local err = invalid(build(1))
        local parts = {}
        for i, f in ipairs(expected) do parts[i] = f.field .. ": " .. f.message end
        assert.equal("invalid parameters: " .. table.concat(parts, "; "), err.message)
      end)

      it("gives the same order whatever the order the keys were set in", function()
        for seed = 1, 6 do
          assert.same(expected, invalid(build(seed)).fields)
        end
      end)

      it("reports both a missing prompt and a missing lyrics", function()
        local err = invalid({ model = M })
        assert.same({
          { field = "prompt", message = "is required" },
          { field = "lyrics", message = "is required" },
        }, err.fields)
      end)
    end)

    describe("encoded body", function()
      it("carries model, prompt and lyrics exactly, multi-byte characters included", function()
        local prompt = "Caf\195\169 jazz \226\130\172 \240\159\142\181 with brushes"
        local lyrics = "[Verse]\nNa\195\175ve \"quotes\" and \\ slashes / here\n[Chorus]\n\240\159\142\181"
        local body = encode(params(M, { prompt = prompt, lyrics = lyrics }))
        assert.equal(M, body.model)
        assert.equal(prompt, body.prompt)
        assert.equal(lyrics, body.lyrics)
      end)

      it("sends nothing but the known parameters", function()
        local setting = { format = "wav", sample_rate = 16000, bitrate = 32000 }
        local body = encode(params(M, { audio_setting = setting }))
        assert.same({ "audio_setting", "lyrics", "model", "prompt" }, keys(body))
      end)

      it("sends the documented defaults mp3, 44100 and 256000 for an empty audio_setting", function()
        local body = encode(params(M, { audio_setting = {} }))
        assert.same({ format = "mp3", audio_sample_rate = 44100, bitrate = 256000 }, body.audio_setting)
      end)

      it("keeps a format the user chose", function()
        for _, f in ipairs(FORMATS) do
          assert.equal(f, encode(params(M, { audio_setting = { format = f } })).audio_setting.format)
        end
      end)

      it("never sends an audio_setting without a format", function()
        local body = encode(params(M))
        if body.audio_setting ~= nil then
          assert.equal("mp3", body.audio_setting.format)
        end
        assert.is_nil(body.format)
      end)

      it("sends the sample rate as audio_sample_rate only, as the model's own file spells it", function()
        for _, r in ipairs(SAMPLE_RATES) do
          local body = encode(params(M, { audio_setting = { sample_rate = r, bitrate = 128000 } }))
          assert.same({ format = "mp3", audio_sample_rate = r, bitrate = 128000 }, body.audio_setting)
        end
      end)

      it("sends audio_sample_rate once when the user wrote that spelling", function()
        local body = encode(params(M, { audio_setting = { format = "pcm", audio_sample_rate = 24000 } }))
        assert.same({ format = "pcm", audio_sample_rate = 24000, bitrate = 256000 }, body.audio_setting)
      end)

      it("sends an integral float such as 44100.0 as the integer 44100", function()
        local body, raw = encode(params(M, { audio_setting = { sample_rate = 44100.0, bitrate = 256000.0 } }))
        assert.equal(44100, body.audio_setting.audio_sample_rate)
        assert.equal(256000, body.audio_setting.bitrate)
        assert.is_nil(raw:find("44100.0", 1, true))
        assert.is_nil(raw:find("e+", 1, true))
      end)

      it("leaves the caller's tables unchanged", function()
        local setting = { sample_rate = 44100 }
        local p = params(M, { audio_setting = setting })
        encode(p)
        assert.same({ sample_rate = 44100 }, setting)
        assert.equal(setting, p.audio_setting)
        assert.same({ "audio_setting", "lyrics", "model", "prompt" }, keys(p))
      end)

      it("returns nil and the same validation error as validate for invalid parameters", function()
        local p = params(M, { prompt = "short", lyric = "x", audio_setting = { format = "ogg" } })
        local body, err = validate.encode(p, models)
        assert.is_nil(body)
        assert.equal("validation", err.kind)
        assert.is_false(err.retryable)
        local _, verr = music.validate(p)
        assert.same(verr.fields, err.fields)
        assert.equal(verr.message, err.message)
        assert.same({ "prompt", "audio_setting.format", "lyric" }, field_names(err))
      end)
    end)
  end)
end

describe("music.validate model", function()
  it("rejects a missing model as required", function()
    local err = invalid({ prompt = PROMPT, lyrics = LYRICS })
    assert.same({ field = "model", message = "is required" }, err.fields[1])
  end)

  it("rejects a model given as a number", function()
    local msg = one_problem({ model = 2.0, prompt = PROMPT, lyrics = LYRICS }, "model")
    contains(msg, "must be a string (got number)")
  end)

  for _, name in ipairs({ "minimax/music-3.0", "Minimax/Music-2.0", "music-2.0", "" }) do
    it(("rejects the unknown model %q, listing every known model"):format(name), function()
      local msg = one_problem({ model = name, prompt = PROMPT, lyrics = LYRICS }, "model")
      contains(msg, ('unknown model "%s"'):format(name))
      local n = 0
      for known in pairs(models) do
        contains(msg, known)
        n = n + 1
      end
      assert.is_true(n >= 2)
      contains(msg, "minimax/music-1.5, minimax/music-2.0")
    end)
  end

  it("applies each model's own prompt limit: 2000 characters pass for music-2.0, not music-1.5", function()
    for _, m in ipairs(MODELS) do assert.is_table(models[m.name]) end
    valid(params("minimax/music-2.0", { prompt = ("a"):rep(2000) }))
    one_problem(params("minimax/music-1.5", { prompt = ("a"):rep(2000) }), "prompt")
  end)
end)

describe("music.validate errors", function()
  it("renders tostring(err) on one line starting with the kind", function()
    local p = params("minimax/music-2.0", {
      prompt = "x", lyrics = 5, ["bad\nkey"] = 1, audio_setting = { format = "o\r\ngg" },
    })
    local err = invalid(p)
    assert.equal(4, #err.fields)
    local s = tostring(err)
    assert.equal("aimlmusic: validation: ", s:sub(1, #"aimlmusic: validation: "))
    assert.is_nil(s:find("[\r\n]"))
    contains(s, "prompt: must be at least 10 characters (got 1)")
    contains(s, "lyrics: must be a string (got number)")
  end)

  it("renders an unknown model containing a newline on one line", function()
    local err = invalid({ model = "bad\nmodel", prompt = PROMPT, lyrics = LYRICS })
    local s = tostring(err)
    assert.is_nil(s:find("\n", 1, true))
    contains(s, "aimlmusic: validation: invalid parameters: model: unknown model")
  end)

  it("keeps err.message valid UTF-8 when it shortens a long multi-byte value", function()
    local value = ("\195\169"):rep(30) -- 30 × é, 60 bytes: the message shortens it
    local msg, err = one_problem(params("minimax/music-2.0", { audio_setting = { format = value } }),
      "audio_setting.format")
    contains(msg, "must be one of mp3, wav, pcm")
    assert.is_true(is_utf8(msg), ("message is not valid UTF-8: %q"):format(msg))
    assert.is_true(is_utf8(err.message))
    assert.is_true(is_utf8(tostring(err)))
  end)

  it("says an out-of-range integer sample_rate is not one of the rates, not that it is no integer", function()
    local huge = 10000000000000000 -- an integer (5.3+) or an integral float (5.1), far off every rate
    local msg = one_problem(params("minimax/music-2.0", { audio_setting = { sample_rate = huge } }),
      "audio_setting.sample_rate")
    contains(msg, "must be one of 16000, 24000, 32000, 44100")
  end)

  for _, bad in ipairs({ 42, "prompt", true }) do
    it(("raises when given %s instead of a table"):format(type(bad)), function()
      local ok, e = pcall(music.validate, bad)
      assert.is_false(ok)
      contains(tostring(e),
        ("aimlmusic.validate: bad argument #1 (table expected, got %s)"):format(type(bad)))
    end)
  end

  it("raises when given nothing", function()
    local ok, e = pcall(music.validate)
    assert.is_false(ok)
    contains(tostring(e), "bad argument #1 (table expected, got nil)")
  end)

  it("returns a fresh fields list for each call", function()
    local p = params("minimax/music-1.5", { prompt = "short" })
    local _, e1 = music.validate(p)
    local _, e2 = music.validate(p)
    assert.are_not.equal(e1.fields, e2.fields)
    assert.same(e1.fields, e2.fields)
  end)
end)

-- The other models' limits, written out by hand from their API references (a second oracle
-- beside spec/validate_models_spec.lua, which reads the provider's files).
local OTHER = {
  { "minimax/music-2.6", { prompt = "Lo-fi pop, slow intro", lyrics = LYRICS },
    { { "prompt", "len", 10, 2000 }, { "lyrics", "len", 10, 3000 } } },
  { "minimax/music-cover", { prompt = "A jazz cover, brushes", reference_audio_url = "https://example.com/a.mp3" },
    { { "prompt", "len", 10, 2000 }, { "lyrics", "len", 10, 3000 } } },
  { "google/lyria2", { prompt = "A calm piano piece" }, { { "prompt", "len", 0, 600 }, { "seed", "int", 0 } } },
  { "stable-audio", { prompt = "Rain on a tin roof" },
    { { "seconds_start", "int", 1, 47 }, { "seconds_total", "int", 1, 47 }, { "steps", "int", 1, 1000 } } },
  { "elevenlabs/eleven_music", { prompt = "Solo piano" },
    { { "prompt", "len", 0, 2000 }, { "music_length_ms", "int", 10000, 300000 } } },
  { "minimax-music", { prompt = "##Hello##", reference_audio_url = "https://example.com/ref.wav" },
    { { "prompt", "len", 0, 600 } } },
}

for _, o in ipairs(OTHER) do
  local M, base = o[1], o[2]
  describe("music.validate for " .. M .. " (hand-written limits)", function()
    for _, lim in ipairs(o[3]) do
      local field, kind, lo, hi = lim[1], lim[2], lim[3], lim[4]
      it(("%s: %s..%s"):format(field, tostring(lo), tostring(hi)), function()
        local function value(n) return kind == "len" and ("\226\130\172"):rep(n) or n end
        valid(util.with(base, { model = M, [field] = value(lo) }))
        if lo > 0 then one_problem(util.with(base, { model = M, [field] = value(lo - 1) }), field) end
        if hi then
          valid(util.with(base, { model = M, [field] = value(hi) }))
          one_problem(util.with(base, { model = M, [field] = value(hi + 1) }), field)
        end
      end)
    end
  end)
end

describe("music.validate for minimax/music-2.6 lyrics (hand-written rule)", function()
  local base = { model = "minimax/music-2.6", prompt = "Lo-fi pop, slow intro" }
  it("needs lyrics unless is_instrumental or lyrics_optimizer is true", function()
    one_problem(base, "lyrics")
    one_problem(util.with(base, { is_instrumental = false, lyrics_optimizer = false }), "lyrics")
    valid(util.with(base, { is_instrumental = true }))
    valid(util.with(base, { lyrics_optimizer = true }))
    valid(util.with(base, { lyrics = LYRICS }))
  end)
end)
