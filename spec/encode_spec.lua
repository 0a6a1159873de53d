-- The request body as written by the core: exact JSON for any valid text.

local core = require "aimlmusic.core"
local models = require "aimlmusic.models"
local json = require("cjson").new()

describe("core.encode", function()
  local tricky = 'He said "stop" \\ then C:\\path/to\n\ttab\r\b\f\1\31\127 é € 🎵 end'

  it("writes strings that decode to exactly what was given", function()
    local body = assert(core.encode({ model = "minimax/music-2.0", prompt = tricky, lyrics = tricky }, models))
    local decoded = json.decode(body)
    assert.equal(tricky, decoded.prompt)
    assert.equal(tricky, decoded.lyrics)
    assert.equal("minimax/music-2.0", decoded.model)
    assert.is_nil(body:find("[%z\1-\31]"), "raw control character in the body")
  end)

  it("writes whole numbers without a fraction and the nested object", function()
    local body = assert(core.encode({ model = "minimax/music-1.5", prompt = "0123456789", lyrics = "0123456789",
      audio_setting = { format = "wav", sample_rate = 44100.0, bitrate = 256000 } }, models))
    assert.matches('"audio_sample_rate":44100[,}]', body)
    assert.matches('"bitrate":256000[,}]', body)
    assert.same({ format = "wav", audio_sample_rate = 44100, bitrate = 256000 }, json.decode(body).audio_setting)
  end)
end)
