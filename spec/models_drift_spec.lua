-- The model table (lua/aimlmusic/models.lua) against the provider's own OpenAPI files
-- (spec/fixtures/provider-api/): same models, same parameter spellings, limits, enums,
-- defaults and required fields. Where a description is stricter than its schema, the table
-- follows the description (see spec/support/provider.lua); these specs say so by name.

local models = require "aimlmusic.models"
local provider = require "support.provider"
local util = require "support.util"

local PROVIDER = provider.models()

local function sorted(list)
  if list == nil then return nil end
  local c = {}
  for i, v in ipairs(list) do c[i] = v end
  table.sort(c, function(a, b) return tostring(a) < tostring(b) end)
  return c
end

-- The table's fields by the names they are sent under: { [wire name] = field }.
local function by_wire(fields)
  local r = {}
  for _, f in ipairs(fields) do
    for _, w in ipairs(f.wire or { f.name }) do r[w] = f end
  end
  return r
end

local names = util.keys

-- Compares one level of properties with one level of fields; prefix names nested ones.
local function compare(props, required, fields, prefix)
  local wire = by_wire(fields)
  assert.same(names(props), names(wire), prefix .. ": the parameters sent are the provider's")
  for prop, rule in pairs(props) do
    local f = wire[prop]
    local where = prefix .. prop
    assert.equal(rule.type, f.type, where .. ": type")
    assert.equal(rule.min_length, f.min_length, where .. ": min_length")
    assert.equal(rule.max_length, f.max_length, where .. ": max_length")
    assert.equal(rule.min, f.min, where .. ": min")
    assert.equal(rule.max, f.max, where .. ": max")
    assert.same(sorted(rule.enum), sorted(f.enum), where .. ": enum")
    assert.equal(rule.default, f.default, where .. ": default")
    assert.equal(required[prop] == true, f.required == true, where .. ": required")
    assert.same(rule.required_unless, sorted(f.required_unless), where .. ": required_unless")
    local url = f.format == "url" or f.transform == "data_uri"
    assert.equal(rule.format == "uri", url, where .. ": a URL")
    if rule.props then compare(rule.props, {}, f.fields, where .. ".") end
  end
end

describe("the model table against the provider's files", function()
  it("has exactly the models of the files", function()
    assert.same(names(PROVIDER), names(models))
  end)

  for name, m in pairs(PROVIDER) do
    it(name .. " sends the parameters of " .. m.file .. " with its limits, enums, defaults and needs",
      function()
      assert.is_table(models[name], name .. " is missing from the table")
      compare(m.props, m.required, models[name].fields, name .. ": ")
    end)
  end

  it("follows the descriptions where they are stricter than the schemas", function()
    -- Read from the files, not written here: the reader of descriptions is in support.provider.
    local m26 = PROVIDER["minimax/music-2.6"].props
    assert.equal(10, m26.prompt.min_length)
    assert.equal("description", m26.prompt.stricter)
    assert.same({ "is_instrumental", "lyrics_optimizer" }, m26.lyrics.required_unless)
    assert.equal(600, PROVIDER["google/lyria2"].props.prompt.max_length)
    assert.equal(600, PROVIDER["minimax-music"].props.prompt.max_length)
  end)

  it("reads the fields the shared GET documents, which the client maps itself", function()
    local doc = provider.load(provider.FETCH)
    local get = doc.paths["/v2/generate/audio"].get
    assert.equal("generation_id", get.parameters[1].name)
    local p = get.responses["200"].content["application/json"].schema.properties
    assert.same({ "queued", "generating", "completed", "error" }, p.status.enum)
    assert.is_table(p.audio_file.properties.url)
    assert.same({ "message", "name" }, names(p.error.properties))
    assert.is_table(p.meta.properties.usage.properties.credits_used)
  end)

  it("fails when a limit drifts (the comparison itself is checked)", function()
    local m = PROVIDER["stable-audio"]
    local fields = {}
    for i, f in ipairs(models["stable-audio"].fields) do
      fields[i] = {}
      for k, v in pairs(f) do fields[i][k] = v end
    end
    fields[4].max = 999
    assert.has_error(function() compare(m.props, m.required, fields, "stable-audio: ") end)
  end)
end)
