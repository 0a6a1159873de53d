-- Property: music.validate on 1,000 random parameter tables (seeded by the clock, the seed
-- printed on failure) never raises, accepts exactly the valid ones and names every refused
-- field, and only those.

local music = require "aimlmusic"
local assert_error = require("support.errors").assert_error

describe("validate on 1,000 random parameter tables", function()
  -- Each generator returns value, problem: problem names the field validate must report, or nil.
  local rnd = math.random
  local CHARS = { "a", "Z", " ", "\n", "é", "ß", "€", "中", "😀", "𝄞" }
  local function pick(list) return list[rnd(1, #list)] end

  local function text(n)
    local t = {}
    for i = 1, n do t[i] = pick(CHARS) end
    return table.concat(t)
  end

  local function text_value(name, max)
    local r = rnd(1, 40)
    if r == 1 then return nil, name end
    if r == 2 then return pick({ 42, true, {}, print, 0 / 0 }), name end
    if r == 3 then return "\255" .. text(20), name end
    local n = rnd(10, math.min(max, 400))
    if r <= 10 then n = pick({ 0, 1, 9, 10, 11, max - 1, max, max + 1, rnd(0, max + 50) }) end
    return text(n), (n < 10 or n > max) and name or nil
  end

  local function enum_value(name, good, bad)
    if rnd(1, 3) == 1 then return nil, nil end
    if rnd(1, 8) == 1 then return pick(bad), name end
    return pick(good), nil
  end

  local function audio_setting(problems)
    local r = rnd(1, 16)
    if r == 1 then return nil end
    if r == 2 then
      problems["audio_setting"] = true
      return pick({ "mp3", 5, true })
    end
    local as = {}
    local p
    as.format, p = enum_value("audio_setting.format", { "mp3", "wav", "pcm" }, { "ogg", "", 1, "MP3" })
    if p then problems[p] = true end
    local rate_key = rnd(1, 2) == 1 and "sample_rate" or "audio_sample_rate"
    as[rate_key], p = enum_value("audio_setting.sample_rate", { 16000, 24000, 32000, 44100, 44100.0 },
      { 22050, 44100.5, "44100", -1, 1 / 0, 0 / 0 })
    if p then problems[p] = true end
    as.bitrate, p = enum_value("audio_setting.bitrate", { 32000, 64000, 128000, 256000 },
      { 1000, "128000", 128000.5, {} })
    if p then problems[p] = true end
    if rnd(1, 12) == 1 then
      as.volume = 1
      problems["audio_setting.volume"] = true
    end
    return as
  end

  local function random_params()
    local problems, params = {}, {}
    local p
    local model = rnd(1, 20)
    if model <= 18 then
      params.model = model <= 9 and "minimax/music-2.0" or "minimax/music-1.5"
    else
      params.model = pick({ "minimax/music-3.0", "", 5, false })
      problems.model = true
    end
    local max = params.model == "minimax/music-1.5" and 300 or 2000
    params.prompt, p = text_value("prompt", max)
    if p then problems[p] = true end
    params.lyrics, p = text_value("lyrics", 3000)
    if p then problems[p] = true end
    params.audio_setting = audio_setting(problems)
    local extra = rnd(1, 20)
    if extra == 1 then
      params.lyric = "typo"
      problems.lyric = true
    elseif extra == 2 then
      params[1] = "array item"
      problems["[1]"] = true
    end
    if problems.model then problems = { model = true } end -- nothing else is checked then
    return params, problems
  end

  it("never raise, accept exactly the valid ones, and name every refused field", function()
    local seed = os.time()
    math.randomseed(seed)
    local refused, accepted = 0, 0
    for i = 1, 1000 do
      local params, problems = random_params()
      local ok, res, err = pcall(music.validate, params)
      local where = ("case %d (seed %d)"):format(i, seed)
      assert.is_true(ok, where .. ": raised " .. tostring(res))
      if res == true then
        accepted = accepted + 1
        assert.is_nil(next(problems), where .. ": accepted although " .. tostring(next(problems)) .. " is wrong")
      else
        refused = refused + 1
        assert.is_nil(res)
        assert_error(err, "validation")
        assert.is_table(err.fields, where)
        assert.is_true(#err.fields >= 1, where .. ": a refusal naming no field")
        local named = {}
        for _, f in ipairs(err.fields) do
          assert.is_string(f.field, where)
          assert.is_true(#f.field > 0, where .. ": an empty field name")
          assert.is_string(f.message, where)
          assert.is_true(#f.message > 0, where)
          assert.matches(f.field, err.message, 1, true)
          named[f.field] = true
        end
        for name in pairs(problems) do
          assert.is_true(named[name], where .. ": " .. name .. " is wrong but not named in: " .. err.message)
        end
        for name in pairs(named) do
          assert.is_true(problems[name], where .. ": " .. name .. " named though it is right: " .. err.message)
        end
      end
    end
    assert.is_true(refused > 100 and accepted > 100, ("%d refused, %d accepted"):format(refused, accepted))
  end)
end)

-- The compiled check (aimlmusic.validate's fast path) against the walk that says why: on random
-- tables for every model, the two accept the same tables and build the same body.
describe("validate's compiled check beside its walk", function()
  local validate = require "aimlmusic.validate"
  local models = require "aimlmusic.models"
  local json = require("cjson").new()
  local encode = require("aimlmusic.core").json_encode
  local rnd = math.random
  local function pick(list) return list[rnd(1, #list)] end

  local function text(n) return ("é"):rep(math.floor(n / 2)) .. ("a"):rep(n - math.floor(n / 2)) end
  local ODD = { true, false, 0, -1, 0.5, 1 / 0, 0 / 0, 2 ^ 53 + 2, "", "x", "\255", {}, { 1 }, print }
  local AUDIO = { "https://cdn.example/a.mp3", "http://h/x.wav", "https:// bad", "data:audio/mpeg;base64,AAAA",
    "data:text/plain;base64,AAAA", "ftp://h/a.mp3", "/nonexistent/track.mp3", "" }

  local function value(f)
    if rnd(1, 6) == 1 then return pick(ODD) end
    local ty = f.type or "string"
    if f.enum and rnd(1, 3) > 1 then return pick(f.enum) end
    if ty == "string" then
      if f.transform or f.format then return pick(AUDIO) end
      local lo, hi = f.min_length or 0, f.max_length or 50
      return text(pick({ lo, hi, lo - 1, hi + 1, rnd(lo, math.min(hi, lo + 40)) }))
    elseif ty == "integer" or ty == "number" then
      local lo, hi = f.min or -5, f.max or 5000
      return pick({ lo, hi, lo - 1, hi + 1, math.floor((lo + hi) / 2), (lo + hi) / 2 + 0.5, 44100.0 })
    elseif ty == "boolean" then
      return rnd(1, 2) == 1
    end
    local t = {}
    for _, sub in ipairs(f.fields) do
      if rnd(1, 3) > 1 then t[sub.alias and rnd(1, 2) == 1 and sub.alias or sub.name] = value(sub) end
    end
    if rnd(1, 10) == 1 then t.extra = 1 end
    return t
  end

  local function random_params(names)
    local name = pick(names)
    local p = { model = rnd(1, 30) == 1 and pick({ "nope", 5 }) or name }
    for _, f in ipairs(models[name].fields) do
      local r = rnd(1, 10)
      if r <= 7 then p[f.name] = value(f) end
      if f.alias and r >= 7 then p[f.alias] = rnd(1, 2) == 1 and p[f.name] or value(f) end
    end
    if rnd(1, 15) == 1 then p.unknown_key = "x" end
    if rnd(1, 30) == 1 then setmetatable(p, {}) end
    return p
  end

  it("accepts the same tables and builds the same bodies", function()
    local seed = os.time()
    math.randomseed(seed)
    local names = {}
    for name in pairs(models) do names[#names + 1] = name end
    table.sort(names)
    local accepted = 0
    for i = 1, 3000 do
      local p = random_params(names)
      local where = ("case %d (seed %d)"):format(i, seed)
      local fast, ferr = validate.validate(p, models)
      local walk, werr = validate.walk(p, models, false)
      assert.equal(walk == true, fast == true, where)
      if fast then
        accepted = accepted + 1
        local body = assert(validate.encode(p, models), where)
        local wire = assert(validate.walk(p, models, true), where)
        local walked = assert(encode(wire), where)
        assert.same(json.decode(walked), json.decode(body), where)
      else
        assert.equal(werr.message, ferr.message, where)
      end
    end
    assert.is_true(accepted > 300, accepted .. " accepted of 3000")
  end)
end)
