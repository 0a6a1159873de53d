-- music.validate and the encoded body for every model, probed at the limits the provider's
-- files state (read by spec/support/provider.lua, not from the model table): each length and
-- range at min-1, min, max and max+1 (multi-byte characters at the length boundaries), each
-- enum value and a wrong one, each type error, each required field, the conditional need.

local music = require "aimlmusic"
local validate = require "aimlmusic.validate"
local json = require("cjson").new()
local provider = require "support.provider"
local util = require "support.util"

local PROVIDER = provider.models()

-- A valid request per model, written by hand.
local BASE = {
  ["minimax/music-2.0"] = { prompt = "Lo-fi pop, slow intro", lyrics = "[Verse]\nStreetlights flicker" },
  ["minimax/music-1.5"] = { prompt = "Lo-fi pop, slow intro", lyrics = "[Verse]\nStreetlights flicker" },
  ["minimax/music-2.6"] = { prompt = "Lo-fi pop, slow intro", lyrics = "[Verse]\nStreetlights flicker" },
  ["minimax/music-cover"] = { prompt = "A jazz cover, brushes", reference_audio_url = "https://example.com/a.mp3" },
  ["google/lyria2"] = { prompt = "A calm piano piece" },
  ["stable-audio"] = { prompt = "Rain on a tin roof" },
  ["elevenlabs/eleven_music"] = { prompt = "Solo piano in C minor, 90 BPM" },
  ["minimax-music"] = { prompt = "##Hello there##", reference_audio_url = "https://example.com/ref.wav" },
}

-- Characters of 1 to 4 bytes: lengths count code points.
local CHARS = { "a", "\195\169", "\226\130\172", "\240\159\142\181" }

local function deep(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = deep(v) end
  return c
end

-- Base params of model with value v set at path {"audio_setting", "bitrate"} (nil removes).
local function with(model, path, v)
  local p = deep(BASE[model])
  p.model = model
  local t = p
  for i = 1, #path - 1 do
    t[path[i]] = t[path[i]] or {}
    t = t[path[i]]
  end
  t[path[#path]] = v
  return p
end

local function accepts(p)
  local ok, err = music.validate(p)
  assert.is_true(ok, err and tostring(err))
  local body, eerr = validate.encode(p, music.models)
  assert.is_string(body, eerr and tostring(eerr))
  return json.decode(body)
end

-- Refused with one problem, on the field at path (under its name or the provider's spelling).
local function refuses(p, path, want)
  local ok, err = music.validate(p)
  assert.is_nil(ok, "accepted a value for " .. table.concat(path, "."))
  assert.equal("validation", err.kind)
  assert.equal(1, #err.fields, tostring(err))
  local field = err.fields[1].field
  local last = field:match("[^.]+$")
  assert.truthy(path[#path]:sub(-#last) == last and field:find(path[1], 1, true) == 1,
    ("refusal names %q, not %s"):format(field, table.concat(path, ".")))
  if want then
    assert.truthy(err.fields[1].message:find(want, 1, true), err.fields[1].message .. " lacks " .. want)
  end
  -- encode refuses the same way: validate and encode cannot disagree.
  local body, eerr = validate.encode(p, music.models)
  assert.is_nil(body)
  assert.same(err.fields, eerr.fields)
  return err.fields[1].message
end

-- cjson reads every number as a float: 10.0 is written "10" in messages.
local function int(x) return string.format("%d", x) end

local WRONG = {
  string = { 42, true },
  integer = { "1", 1.5, true, 0 / 0, math.huge },
  number = { "1", true, 0 / 0, -math.huge },
  boolean = { "true", 1 },
  object = { "x", 3 },
}

local function probe(model, rule, path)
  local name = table.concat(path, ".")

  if rule.min_length or rule.max_length then
    for _, ch in ipairs(CHARS) do
      it(("%s: lengths of %d-byte characters at both limits"):format(name, #ch), function()
        if rule.min_length then
          accepts(with(model, path, ch:rep(rule.min_length)))
          if rule.min_length > 0 then
            refuses(with(model, path, ch:rep(rule.min_length - 1)), path, "at least " .. int(rule.min_length))
          end
        end
        if rule.max_length then
          accepts(with(model, path, ch:rep(rule.max_length)))
          refuses(with(model, path, ch:rep(rule.max_length + 1)), path, "at most " .. int(rule.max_length))
        end
      end)
    end
  end

  if rule.min or rule.max then
    it(name .. ": values at min-1, min, max, max+1", function()
      if rule.min then
        local body = accepts(with(model, path, rule.min))
        local sent = body
        for _, k in ipairs(path) do sent = sent[k] end
        assert.equal(rule.min, sent)
        refuses(with(model, path, rule.min - 1), path, "at least " .. int(rule.min))
      end
      if rule.max then
        accepts(with(model, path, rule.max))
        refuses(with(model, path, rule.max + 1), path, "at most " .. int(rule.max))
      else
        accepts(with(model, path, 2 ^ 31))
      end
    end)
  end

  if rule.enum then
    it(name .. ": each value of the enum, and a wrong one", function()
      for _, v in ipairs(rule.enum) do accepts(with(model, path, v)) end
      local wrong = rule.type == "string" and "ogg" or 22050
      refuses(with(model, path, wrong), path, "must be one of")
    end)
  end

  it(name .. ": a value of the wrong type", function()
    for _, v in ipairs(WRONG[rule.type]) do refuses(with(model, path, v), path) end
  end)

  if rule.type == "boolean" then
    it(name .. ": true and false", function()
      assert.is_true(accepts(with(model, path, true))[path[1]])
      assert.is_false(accepts(with(model, path, false))[path[1]])
    end)
  end

  if rule.format == "uri" then
    it(name .. ": an http(s) URL, and not another scheme", function()
      accepts(with(model, path, "http://example.com/x.wav"))
      refuses(with(model, path, "ftp://example.com/x.wav"), path)
    end)
  end

  if rule.props then
    for _, k in ipairs(rule.order) do
      local sub = {}
      for i, p in ipairs(path) do sub[i] = p end
      sub[#sub + 1] = k
      probe(model, rule.props[k], sub)
    end
  end
end

for _, file in ipairs(provider.FILES) do
  local m = provider.model(file)
  local model = m.name

  describe("music.validate for " .. model, function()
    it("accepts the hand-written request and encodes it", function()
      local body = accepts(with(model, { "model" }, model))
      assert.equal(model, body.model)
      assert.equal(BASE[model].prompt, body.prompt)
    end)

    for _, prop in ipairs(m.order) do probe(model, m.props[prop], { prop }) end

    for _, prop in ipairs(m.order) do
      if m.required[prop] then
        it(prop .. " is required", function()
          refuses(with(model, { prop }, nil), { prop }, "is required")
        end)
      end
      local unless = m.props[prop].required_unless
      if unless then
        it(prop .. " is required unless " .. table.concat(unless, " or ") .. " is true", function()
          local msg = refuses(with(model, { prop }, nil), { prop }, "is required unless")
          for _, flag in ipairs(unless) do
            assert.truthy(msg:find(flag, 1, true))
            local p = with(model, { prop }, nil)
            p[flag] = true
            local body = accepts(p)
            assert.is_nil(body[prop])
            assert.is_true(body[flag])
            p[flag] = false
            refuses(p, { prop }, "is required unless")
          end
        end)
      end
    end

    it("refuses an unknown parameter, naming it", function()
      refuses(with(model, { "not_a_parameter" }, 1), { "not_a_parameter" }, "not a known parameter")
    end)
  end)
end

describe("music.validate of numbers that cannot be sent", function()
  it("refuses non-finite numbers and integers beyond 2^53, naming the field", function()
    for _, v in ipairs({ 0 / 0, math.huge, -math.huge, 2 ^ 60, -(2 ^ 60) }) do
      refuses(with("google/lyria2", { "seed" }, v), { "seed" })
    end
    accepts(with("google/lyria2", { "seed" }, 2 ^ 53))
  end)
end)

describe("1,000 random parameter tables per model", function()
  local KEYS = {}
  for name, m in pairs(PROVIDER) do
    KEYS[name] = { "model", "nonsense" }
    for _, k in ipairs(m.order) do KEYS[name][#KEYS[name] + 1] = k end
  end

  local function random_string()
    local n = math.random(0, 40)
    if math.random() < 0.05 then n = math.random(590, 3100) end
    local parts = {}
    for i = 1, n do parts[i] = CHARS[math.random(#CHARS)] end
    if math.random() < 0.1 then parts[#parts + 1] = string.char(math.random(128, 255)) end
    return table.concat(parts)
  end

  local function random_value(depth)
    local r = math.random(10)
    if r == 1 then return random_string() end
    if r == 2 then return math.random(-10, 300001) end
    if r == 3 then return ({ 0 / 0, math.huge, -math.huge, 2 ^ 63, 0.5, -1, 1e300 })[math.random(7)] end
    if r == 4 then return math.random() < 0.5 end
    if r == 5 and depth < 2 then
      local t = {}
      for _ = 1, math.random(0, 4) do
        t[({ "format", "sample_rate", "audio_sample_rate", "bitrate", 1, "x" })[math.random(6)]] =
          random_value(depth + 1)
      end
      return t
    end
    if r == 6 then return ({ 16000, 44100, 256000, "mp3", "wav", 47, 1, 1000, 10000 })[math.random(9)] end
    if r == 7 then return ("x"):rep(math.random(0, 12)) end
    if r == 8 then return "https://example.com/" .. random_string() end
    if r == 9 then return "data:audio/wav;base64,UklGRg==" end
    return nil
  end

  for name in pairs(PROVIDER) do
    it(name .. ": validate never raises, every refusal names a field, what passes encodes", function()
      math.randomseed(#name * 7919)
      local keys = KEYS[name]
      for _ = 1, 1000 do
        local p = deep(BASE[name])
        p.model = name
        for _ = 1, math.random(0, 4) do p[keys[math.random(#keys)]] = random_value(0) end
        local okc, ok, err = pcall(music.validate, p)
        assert.is_true(okc, tostring(ok))
        if ok then
          local body = validate.encode(p, music.models)
          assert.is_string(body, "validate accepted what encode refused: " .. tostring(p))
          assert.is_table(json.decode(body))
        else
          assert.equal("validation", err.kind)
          assert.truthy(#err.fields >= 1)
          for _, f in ipairs(err.fields) do
            assert.is_string(f.field)
            assert.truthy(#f.field > 0)
            assert.is_string(f.message)
          end
        end
      end
    end)
  end
end)

describe("util", function()
  it("the hand-written requests cover every model of the files", function()
    for name in pairs(PROVIDER) do assert.is_table(BASE[name], name) end
    assert.is_function(util.with)
  end)
end)
