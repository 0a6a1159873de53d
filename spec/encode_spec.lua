-- The request body as written by the core: exact JSON for any valid text.

local validate = require "aimlmusic.validate"
local models = require "aimlmusic.models"
local json = require("cjson").new()

describe("validate.encode", function()
  local tricky = 'He said "stop" \\ then C:\\path/to\n\ttab\r\b\f\1\31\127 é € 🎵 end'

  it("writes strings that decode to exactly what was given", function()
    local body = assert(validate.encode({ model = "minimax/music-2.0", prompt = tricky, lyrics = tricky }, models))
    local decoded = json.decode(body)
    assert.equal(tricky, decoded.prompt)
    assert.equal(tricky, decoded.lyrics)
    assert.equal("minimax/music-2.0", decoded.model)
    assert.is_nil(body:find("[%z\1-\31]"), "raw control character in the body")
  end)

  it("writes whole numbers without a fraction and the nested object", function()
    local body = assert(validate.encode({ model = "minimax/music-1.5", prompt = "0123456789", lyrics = "0123456789",
      audio_setting = { format = "wav", sample_rate = 44100.0, bitrate = 256000 } }, models))
    assert.matches('"audio_sample_rate":44100[,}]', body)
    assert.matches('"bitrate":256000[,}]', body)
    assert.same({ format = "wav", audio_sample_rate = 44100, bitrate = 256000 }, json.decode(body).audio_setting)
  end)
end)

-- The body written byte for byte as lua-cjson (with the core's limits) writes each member, in
-- the order the body has them, but for the forward slash, which the core leaves as it is:
-- strings escaped alike, whole numbers alike, nested objects alike.
describe("validate.encode, beside lua-cjson", function()
  local cjson = require("cjson").new()
  cjson.encode_max_depth(64)
  cjson.encode_invalid_numbers(false)

  -- The members of the JSON object text s, in order: {name, value text} each (s from validate.encode).
  local function members(s)
    local out, i = {}, 2
    while s:sub(i, i) ~= "}" do
      local value_at = select(2, s:find('^"[^"\\]*"', i)) + 2
      local depth, j, in_string = 0, value_at, false
      while true do
        local c = s:sub(j, j)
        if in_string then
          if c == "\\" then j = j + 1 elseif c == '"' then in_string = false end
        elseif c == '"' then in_string = true
        elseif c == "{" then depth = depth + 1
        elseif c == "}" then
          if depth == 0 then break end
          depth = depth - 1
        elseif c == "," and depth == 0 then break end
        j = j + 1
      end
      out[#out + 1] = { json.decode(s:sub(i, value_at - 2)), s:sub(value_at, j - 1) }
      i = s:sub(j, j) == "," and j + 1 or j
    end
    return out
  end

  local function as_cjson(s)
    local parts = {}
    for _, m in ipairs(members(s)) do
      local value = m[2]:sub(1, 1) == "{" and as_cjson(m[2]) or cjson.encode(json.decode(m[2]))
      parts[#parts + 1] = cjson.encode(m[1]) .. ":" .. value
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end

  -- lua-cjson 2.1.0 writes "/" as "\/"; escapes are read in pairs, so "\\/" stays as it is.
  local function slashes_as_they_are(s)
    return (s:gsub("\\(.)", function(c) return c == "/" and "/" or "\\" .. c end))
  end

  -- A random valid UTF-8 string of n code points, control bytes, quotes, slashes and DEL among them.
  local function random_text(n)
    local out = {}
    for i = 1, n do
      local r = math.random(6)
      if r == 1 then out[i] = string.char(math.random(0, 31))
      elseif r == 2 then out[i] = ({ '"', "\\", "/", "\127", "\226\130\172", "\240\159\142\181" })[math.random(6)]
      elseif r == 3 then out[i] = string.char(0xC3, math.random(0x80, 0xBF))
      else out[i] = string.char(math.random(32, 126)) end
    end
    return table.concat(out)
  end

  it("agrees on random texts and numbers", function()
    local seed = os.time()
    math.randomseed(seed)
    for _ = 1, 300 do
      for _, params in ipairs {
        { model = "minimax/music-2.0", prompt = random_text(math.random(10, 200)),
          lyrics = random_text(math.random(10, 300)) },
        { model = "minimax/music-1.5", prompt = random_text(math.random(10, 100)), lyrics = random_text(20),
          audio_setting = { format = "pcm", sample_rate = 16000, bitrate = 32000.0 } },
        { model = "stable-audio", prompt = random_text(30), seconds_start = math.random(1, 47),
          steps = math.random(1, 1000) + 0.0 },
        { model = "minimax/music-2.6", prompt = random_text(12), is_instrumental = math.random(2) == 1,
          lyrics_optimizer = true },
      } do
        local body = assert(validate.encode(params, models))
        assert.equal(slashes_as_they_are(as_cjson(body)), body, "seed " .. seed)
      end
    end
  end)

  it("writes every whole number up to 2^53 exactly, as digits", function()
    for _, seed in ipairs { 0, 7, 99999999999999, 100000000000000, 1e15, 2 ^ 53 - 1, 2 ^ 53 } do
      local body = assert(validate.encode({ model = "google/lyria2", prompt = "a calm tune", seed = seed }, models))
      assert.equal(("%.0f"):format(seed), body:match('"seed":(%d+)'))
      assert.equal(seed, json.decode(body).seed)
    end
  end)
end)
