-- The model table's own vocabulary is checked when it loads: a typo, an unknown type, a range
-- on a string or min > max raise at require time, naming the model and the field. And a model
-- of a new shape is one entry in models.lua: added at run time here, it validates in this
-- process and is served by a mock whose only change is that entry.

local music = require "aimlmusic"
local schema = require "aimlmusic.schema"
local mockctl = require "support.mockctl"
local util = require "support.util"
local http = require "socket.http"
local ltn12 = require "ltn12"
local json = require("cjson").new()

local unpack = table.unpack or unpack

local function entry(fields, extra)
  local e = { fields = fields }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

-- check_models on a table of one model "acme/x" raises a message with every piece of want.
local function raises(e, want)
  local ok, msg = pcall(schema.check_models, { ["acme/x"] = e })
  assert.is_false(ok, "accepted")
  msg = tostring(msg)
  for _, w in ipairs(want) do assert.truthy(msg:find(w, 1, true), ("%q lacks %q"):format(msg, w)) end
end

describe("aimlmusic.schema", function()
  it("accepts the shipped table and returns it", function()
    local models = require "aimlmusic.models"
    assert.equal(models, schema.check_models(models))
  end)

  local S = { name = "prompt", type = "string" }
  local cases = {
    { "a misspelt key", { { name = "prompt", type = "string", requierd = true } },
      { "acme/x", "field prompt", 'unknown key "requierd"' } },
    { "an unknown type", { { name = "loud", type = "bool" } }, { "acme/x", "field loud", 'unknown type "bool"' } },
    { "a missing type", { { name = "loud" } }, { "field loud", "unknown type" } },
    { "a value range on a string", { { name = "prompt", type = "string", min = 1, max = 10 } },
      { "field prompt", "min/max are value ranges", "min_length/max_length" } },
    { "a length on an integer", { { name = "n", type = "integer", max_length = 3 } }, { "field n", "apply to strings" } },
    { "min > max", { { name = "n", type = "integer", min = 5, max = 1 } }, { "field n", "min is greater than max" } },
    { "min_length > max_length", { { name = "p", type = "string", min_length = 5, max_length = 1 } },
      { "field p", "min_length is greater than max_length" } },
    { "a fractional bound on an integer", { { name = "n", type = "integer", max = 1.5 } }, { "field n", "whole number" } },
    { "an infinite bound", { { name = "x", type = "number", max = math.huge } }, { "field x", "finite number" } },
    { "an enum value of the wrong type", { { name = "n", type = "integer", enum = { 1, "2" } } },
      { "field n", "an enum value must be a valid integer" } },
    { "a default outside the range", { { name = "n", type = "integer", min = 1, max = 4, default = 9 } },
      { "field n", "the default is outside" } },
    { "a default outside the enum", { { name = "f", type = "string", enum = { "a" }, default = "b" } },
      { "field f", "not one of the enum values" } },
    { "a boolean default that is not a boolean", { { name = "b", type = "boolean", default = "no" } },
      { "field b", "the default must be a valid boolean" } },
    { "an object without fields", { { name = "o", type = "object" } }, { "field o", "needs a fields list" } },
    { "fields on a string", { { name = "s", type = "string", fields = {} } }, { "field s", "belong to an object" } },
    { "a nested typo", { { name = "o", type = "object", fields = { { name = "rate", type = "integer", mni = 1 } } } },
      { "field o.rate", 'unknown key "mni"' } },
    { "a field without a name", { { type = "string" } }, { "fields[1] has no name" } },
    { "a name used twice", { S, S }, { 'the name "prompt" is used twice' } },
    { "required_unless naming a string", { S, { name = "l", type = "string", required_unless = { "prompt" } } },
      { "field l", "not a boolean field" } },
    { "required and required_unless together", { { name = "b", type = "boolean" },
      { name = "l", type = "string", required = true, required_unless = { "b" } } }, { "field l", "together" } },
    { "wire that is not a list of names", { { name = "n", type = "integer", wire = "rate" } }, { "field n", "wire" } },
    { "an unknown transform", { { name = "a", type = "string", transform = "base64" } }, { "field a", "data_uri" } },
    { "max_bytes without transform", { { name = "a", type = "string", max_bytes = 5 } }, { "field a", "max_bytes" } },
    { "a URL format on an integer", { { name = "n", type = "integer", format = "url" } }, { "field n", "for strings" } },
    { "a duration on a string", { { name = "d", type = "string", duration = "s" } }, { "field d", "duration" } },
    { "a duration in hours", { { name = "d", type = "integer", duration = "h" } }, { "field d", '"s" or "ms"' } },
  }
  for _, c in ipairs(cases) do
    it("raises on " .. c[1] .. ", naming model and field", function() raises(entry(c[2]), c[3]) end)
  end

  it("raises on an unknown model key, a wrong format and a bad response mapping", function()
    raises(entry({ S }, { fieldz = {} }), { "acme/x", 'unknown key "fieldz"' })
    raises(entry({ S }, { format = "ogg" }), { "acme/x", "format must be mp3, wav or pcm" })
    raises(entry({ S }, { response = { { from = "a.b", too = "x" } } }), { "response[1] has an unknown key" })
    raises(entry({ S }, { response = { { from = "a.b" } } }), { "response[1] needs from and to" })
    raises(entry({ S }, { response = { { from = "a.b", to = "status" } } }), { "cannot set st.status" })
    local many = {}
    for i = 1, 21 do many[i] = { from = "extra_info.f" .. i, to = "f" .. i } end
    raises(entry({ S }, { response = many }), { "response holds at most 20 entries" })
    raises({ doc = "no fields" }, { "acme/x", "no fields list" })
  end)

  it("checks a model added at run time on its first use, before any request", function()
    local models = music.models
    models["acme/typo"] = entry({ { name = "prompt", type = "string", requierd = true } })
    local ok, msg = pcall(music.validate, { model = "acme/typo", prompt = "x" })
    models["acme/typo"] = nil
    assert.is_false(ok)
    assert.truthy(tostring(msg):find('acme/typo: field prompt: unknown key "requierd"', 1, true))
  end)

  it("validates a number field: a finite value within its range", function()
    music.models["acme/num"] = entry({ { name = "gain", type = "number", min = 0.5, max = 2.5 } })
    local function check(v) return music.validate { model = "acme/num", gain = v } end
    local results = {}
    for i, v in ipairs({ 0.5, 2.5, 1.25, 0.4, 2.6, 0 / 0, math.huge, "1" }) do
      local ok, err = check(v)
      results[i] = ok or err.fields[1].field .. ": " .. err.fields[1].message
    end
    music.models["acme/num"] = nil
    assert.same({ true, true, true, "gain: must be at least 0.5 (got 0.4)", "gain: must be at most 2.5 (got 2.6)" },
      { unpack(results, 1, 5) })
    assert.matches("^gain: must be a finite number", results[6])
    assert.matches("^gain: must be a finite number", results[7])
    assert.equal("gain: must be a number (got string)", results[8])
  end)

  it("raises when the module is required with a table that has a typo", function()
    local dir = util.tmpdir()
    util.mkdir(dir .. "/aimlmusic")
    util.write_file(dir .. "/aimlmusic/models.lua",
      'return { ["acme/x"] = { fields = { { name = "seed", type = "integer", minimum = 0 } } } }')
    local root = util.repo_root()
    local out = util.sh("cd " .. util.q(root) .. " && LUA_PATH=" .. util.q(dir .. "/?.lua;./lua/?.lua;;")
      .. " " .. util.LUA .. " -e 'require \"aimlmusic\"' 2>&1; echo \"exit=$?\"")
    util.rm_rf(dir)
    assert.truthy(out:find('acme/x: field seed: unknown key "minimum"', 1, true), out)
    assert.falsy(out:find("exit=0", 1, true), out)
  end)
end)

-- A model of a new shape: a boolean, an integer range that sets the duration, a local file
-- sent as a data: URI with a small limit, and its own place in the answer for the duration.
local NEW_MODEL = [[{
  doc = "a chime", format = "wav",
  fields = {
    { name = "prompt", type = "string", required = true, max_length = 50 },
    { name = "bright", type = "boolean", default = false },
    { name = "seconds", type = "integer", min = 1, max = 4, default = 1, duration = "s" },
    { name = "sample", type = "string", transform = "data_uri", max_bytes = 2000 },
  },
  response = {
    { from = "details.length_ms", to = "duration_ms" },
    { from = "audio_file.file_size", to = "size" },
    { from = "audio_file.content_type", to = "content_type" },
  },
}]]

describe("a model added as one entry", function()
  local other, dir, client

  setup(function()
    dir = util.tmpdir()
    util.mkdir(dir .. "/aimlmusic")
    -- The mock's only change: the shipped table with one more entry.
    util.write_file(dir .. "/aimlmusic/models.lua", ("local m = dofile(%q)\nm[\"acme/chime\"] = %s\nreturn m\n")
      :format(util.repo_root() .. "/lua/aimlmusic/models.lua", NEW_MODEL))
    other = mockctl.spawn(dir .. "/?.lua;")
    music.models["acme/chime"] = util.load_chunk("return " .. NEW_MODEL, "acme/chime")
    client = assert(music.new { api_key = other.key, base_url = other.api_url, poll_interval = 0.05 })
  end)

  teardown(function()
    music.models["acme/chime"] = nil
    if other then other:close() end
    util.rm_rf(dir)
  end)

  it("validates by its own rules in this process", function()
    assert.is_true(music.validate { model = "acme/chime", prompt = "ding", bright = true, seconds = 4 })
    for _, c in ipairs({ { "seconds", 0, "at least 1" }, { "seconds", 5, "at most 4" },
      { "bright", "yes", "true or false" }, { "prompt", ("x"):rep(51), "at most 50" } }) do
      local ok, err = music.validate { model = "acme/chime", prompt = "ding", [c[1]] = c[2] }
      assert.is_nil(ok)
      assert.equal(c[1], err.fields[1].field)
      assert.truthy(err.fields[1].message:find(c[3], 1, true), err.fields[1].message)
    end
    local ok, err = music.validate { model = "acme/chime", prompt = "ding", sample = dir .. "/none.wav" }
    assert.is_nil(ok)
    assert.equal("sample", err.fields[1].field)
  end)

  it("runs through a mock that knows it only from the table: submit, complete, download", function()
    local path = dir .. "/sample.wav"
    local data = "RIFF\0\0\0\0WAVE" .. ("\1\2\3"):rep(400)
    util.write_file(path, data)
    local out = dir .. "/chime.wav"
    local st = assert(client:generate({ model = "acme/chime", prompt = "ding", bright = true, seconds = 3,
      sample = path }, { output = out, timeout = 30 }))
    assert.equal(3000, st.duration_ms)
    assert.equal("audio/wav", st.content_type)
    local bytes = util.read_file(out)
    assert.equal(44 + 3 * 44100 * 2, #bytes)
    assert.equal(#bytes, st.size)
    local job = other:jobs()[1]
    assert.is_true(job.params.bright)
    assert.equal(#data, job.inputs.sample.size)
    assert.equal("audio/wav", job.inputs.sample.mime)
  end)

  it("is refused by the mock by the same rules: a data: URI over max_bytes, a range", function()
    local function post(tbl)
      local body, chunks = json.encode(tbl), {}
      local _, code = http.request {
        url = other.api_url .. "/v2/generate/audio", method = "POST",
        headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#body),
          authorization = "Bearer " .. other.key },
        source = ltn12.source.string(body), sink = ltn12.sink.table(chunks),
      }
      return code, json.decode(table.concat(chunks))
    end
    local code, err = post { model = "acme/chime", prompt = "ding", seconds = 5,
      sample = "data:audio/wav;base64," .. ("AAAA"):rep(700) }
    assert.equal(400, code)
    assert.same({ "seconds must not be greater than 4", "sample must not be larger than 2000 bytes" }, err.message)
  end)

  it("is unknown to a mock with the shipped table", function()
    local mock = mockctl.start()
    local c = assert(music.new { api_key = mock.key, base_url = mock.api_url })
    local job, err = c:submit { model = "acme/chime", prompt = "ding" }
    assert.is_nil(job)
    assert.equal("validation", err.kind)
    assert.equal(400, err.status)
  end)
end)
