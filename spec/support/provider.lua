-- spec/support/provider.lua: the provider's OpenAPI files (spec/fixtures/provider-api/, copied
-- from its documentation, 2026-08) read into the rules they state, without the model table:
-- an oracle the table is compared with, and the limits the per-model specs probe.
--
--   local provider = require "support.provider"
--   for name, m in pairs(provider.models()) do ... m.props[prop] ... end
--
-- Each model: { file, required = {prop = true}, props = {prop = rule}, order = {prop...} };
-- a rule: { type, min_length, max_length, min, max, enum, default, format, props (objects),
-- required_unless = {boolean props}, stricter = "why" }. Where a description is stricter than
-- the schema ("Length: 10–2000 characters", "Maximum 600 characters", "When set to true, the
-- lyrics field is not required"), the rule follows the description.

local json = require("cjson").new()
local util = require "support.util"

local M = {}

M.DIR = util.repo_root() .. "/spec/fixtures/provider-api"
M.FILES = {
  "music-2.0.json", "music-1.5.json", "music-2.6.json", "music-cover.json", "lyria-2.json",
  "stable-audio.json", "eleven_music.json", "minimax-music.json",
}
M.FETCH = "universal-audio-fetch.json"

local EN_DASH = "\226\128\147"

function M.load(file)
  local text = assert(util.read_file(M.DIR .. "/" .. file), "cannot read " .. file)
  return json.decode(text)
end

local function numeric(v)
  if type(v) == "string" and tonumber(v) then return tonumber(v) end
  return v
end

local function rule_of(p)
  local r = {
    type = p.type, min_length = p.minLength, max_length = p.maxLength, min = p.minimum,
    max = p.maximum, enum = p.enum, format = p.format,
  }
  if p.default ~= nil then
    -- The files write some integer defaults as strings ("44100").
    r.default = (p.type == "integer" or p.type == "number") and numeric(p.default) or p.default
  end
  local d = type(p.description) == "string" and p.description or ""
  local lo, hi = d:match("Length: (%d+)" .. EN_DASH .. "(%d+) characters")
  if lo then
    lo, hi = tonumber(lo), tonumber(hi)
    if not r.min_length or lo > r.min_length then r.min_length, r.stricter = lo, "description" end
    if not r.max_length or hi < r.max_length then r.max_length, r.stricter = hi, "description" end
  end
  local most = tonumber(d:match("Maximum (%d+) characters") or "")
  if most and (not r.max_length or most < r.max_length) then r.max_length, r.stricter = most, "description" end
  if p.type == "object" and p.properties then
    r.props, r.order = {}, {}
    for k, sub in pairs(p.properties) do
      r.props[k] = rule_of(sub)
      r.order[#r.order + 1] = k
    end
    table.sort(r.order)
  end
  return r
end

--- The request rules of one file: { name, required, props, order }.
function M.model(file)
  local doc = M.load(file)
  local schema = doc.paths["/v2/generate/audio"].post.requestBody.content["application/json"].schema
  local m = { file = file, name = schema.properties.model.enum[1], required = {}, props = {}, order = {} }
  for _, k in ipairs(schema.required or {}) do
    if k ~= "model" then m.required[k] = true end
  end
  for k, p in pairs(schema.properties) do
    if k ~= "model" then
      m.props[k] = rule_of(p)
      m.order[#m.order + 1] = k
    end
  end
  table.sort(m.order)
  -- A boolean whose description lifts another property's need: "When set to true, the lyrics
  -- field is not required", "When set to true and lyrics is empty, ...".
  for k, p in pairs(schema.properties) do
    local d = p.type == "boolean" and type(p.description) == "string" and p.description or ""
    local lifted = d:match("the (%w+) field is not required") or d:match("true and (%w+) is empty")
    if lifted and m.props[lifted] and not m.required[lifted] then
      local r = m.props[lifted]
      r.required_unless = r.required_unless or {}
      r.required_unless[#r.required_unless + 1] = k
      table.sort(r.required_unless)
    end
  end
  return m
end

--- Every music model of the files, by name.
function M.models()
  local all = {}
  for _, f in ipairs(M.FILES) do
    local m = M.model(f)
    all[m.name] = m
  end
  return all
end

return M
