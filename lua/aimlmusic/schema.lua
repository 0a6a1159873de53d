-- aimlmusic.schema: the model table's own vocabulary, checked once per entry, so a typo in
-- lua/aimlmusic/models.lua ("requierd") is an error at load, naming the model and the field.
-- Owns: the known keys and types, ranges that mean one thing per type, literals (enum values,
-- defaults) held to their own field's rules, check_models. Must not know: user parameters
-- (aimlmusic.validate), HTTP, the engine.

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local utf8_len = require("aimlmusic.core").utf8_len

local floor, huge = math.floor, math.huge
local rawlen = rawget(_G, "rawlen") or function(t) return #t end -- Lua 5.1, LuaJIT: # is raw

local M = {}

local function set(...)
  local s = {}
  for i = 1, select("#", ...) do s[select(i, ...)] = true end
  return s
end

local FIELD_TYPES = set("string", "integer", "number", "boolean", "object")
local FIELD_KEYS = set("name", "type", "doc", "required", "required_unless", "min_length", "max_length", "min",
  "max", "enum", "default", "alias", "wire", "fields", "format", "transform", "max_bytes", "duration")
local MODEL_KEYS = set("fields", "response", "format", "doc")
local AUDIO_FORMATS = set("mp3", "wav", "pcm")
local ST_RESERVED = set("id", "status", "url", "raw", "error")
local MAX_RESPONSE = 20 -- the fields a status answer is read for (src/response.c): 9 of its own, at most 32
local URL, DATA_URI, DURATIONS = set("url"), set("data_uri"), set("s", "ms")

-- A string up to its first zero byte (what the checks have always read of it); nil for any
-- other value.
local cut_nul = require("aimlmusic.errors").cut_nul
local function cstr(v)
  if type(v) ~= "string" then return nil end
  return cut_nul(v)
end

-- A key or value as a message shows it: a string itself, anything else its type.
local function show(v) return cstr(v) or type(v) end
local function is_str(v) return type(v) == "string" end
local function is_bool(v) return type(v) == "boolean" end
local function name_ok(v) return type(v) == "string" and v ~= "" end
local function audio_format(v) return AUDIO_FORMATS[cstr(v)] end

-- A number compared as the double it is sent as (an integer of Lua 5.3+ rounded to one).
local function num(v) return type(v) == "number" and v + 0.0 or nil end
local function finite(x) return x == x and x ~= huge and x ~= -huge end
local function is_whole(x) return x == x and x >= -2 ^ 53 and x <= 2 ^ 53 and x == floor(x) end

-- Raises "model table: <model>: field <path>: <message>" (no field at the top).
local function fail(w, message)
  if w.path ~= "" then error("model table: " .. w.model .. ": field " .. w.path .. ": " .. message, 0) end
  error("model table: " .. w.model .. ": " .. message, 0)
end

-- t[key], which must be absent or pass test.
local function optional(w, t, key, test, message)
  local v = rawget(t, key)
  if v ~= nil and not test(v) then fail(w, message) end
  return v
end

-- f[key], a key that takes one of a few words, on fields of some types only.
local function word(w, f, key, applies, words, not_here, not_a_word)
  local v = rawget(f, key)
  if v ~= nil and not applies then fail(w, not_here) end
  if v ~= nil and not words[cstr(v)] then fail(w, not_a_word) end
  return v
end

-- A list: keys 1..n only, n >= 1 unless empty_ok. Returns n.
local function check_list(w, t, key, empty_ok)
  local n, count = rawlen(t), 0
  for k in next, t do
    if type(k) ~= "number" or not (k >= 1 and k <= n and k == floor(k)) then fail(w, key .. " must be a list") end
    count = count + 1
  end
  if count == 0 and not empty_ok then fail(w, key .. " must not be empty") end
  return n
end

-- Literals (enum values, the default) by type: what one is measured by against the field's
-- limits (false or nil when it is not a valid one), and the keys of those limits.
local LITERALS = {
  string = { function(v) return type(v) == "string" and utf8_len(v) end, "min_length", "max_length" },
  boolean = { is_bool },
  integer = { function(v) local x = num(v) return x and finite(x) and is_whole(x) and x end, "min", "max" },
  number = { function(v) local x = num(v) return x and finite(x) and x end, "min", "max" },
}

-- A literal held to its field's own rules.
local function check_literal(w, f, v, ftype, what)
  if ftype == "object" then fail(w, "an object takes no " .. what) end
  local rule = LITERALS[ftype]
  local x = rule[1](v)
  if not x then fail(w, what .. " must be a valid " .. ftype) end
  local lo, hi = num(rule[2] and rawget(f, rule[2])), num(rule[3] and rawget(f, rule[3]))
  if (lo and x < lo) or (hi and x > hi) then fail(w, what .. " is outside the field's own limits") end
end

-- A bound: a finite number, a whole one where wanted. Returns it when present, else nil.
local function check_bound(w, f, key, whole)
  local v = rawget(f, key)
  if v == nil then return nil end
  local x = num(v)
  if not x or not finite(x) or (whole and not is_whole(x)) then
    fail(w, key .. " must be a " .. (whole and "whole number" or "finite number"))
  end
  return x
end

-- "prefix.name" (or "name" at the top), cut to 127 bytes.
local function join_path(prefix, name)
  return ((prefix == "" and "" or prefix .. ".") .. cstr(name)):sub(1, 127)
end

local check_fields

-- Checks one field; returns its type.
local function check_field(w, f)
  -- Every key must be known: a typo such as "requierd" must not silently do nothing.
  for k in next, f do
    if not FIELD_KEYS[cstr(k)] then fail(w, 'unknown key "' .. show(k) .. '"') end
  end
  local ftype = cstr(rawget(f, "type"))
  if not FIELD_TYPES[ftype] then
    fail(w, 'unknown type "' .. show(rawget(f, "type")) .. '" (string, integer, number, boolean or object)')
  end
  local is_string, is_numeric = ftype == "string", ftype == "integer" or ftype == "number"
  optional(w, f, "doc", is_str, "doc must be a string")
  optional(w, f, "required", is_bool, "required must be true or false")

  -- Lengths are for strings, value ranges for numbers: each word means one thing.
  if not is_string and (rawget(f, "min_length") ~= nil or rawget(f, "max_length") ~= nil) then
    fail(w, "min_length/max_length apply to strings, not to a " .. ftype)
  end
  if not is_numeric and (rawget(f, "min") ~= nil or rawget(f, "max") ~= nil) then
    fail(w, "min/max are value ranges of an integer or number, not of a " .. ftype
      .. (is_string and " (use min_length/max_length)" or ""))
  end
  if is_string then
    local lo = check_bound(w, f, "min_length", true)
    local hi = check_bound(w, f, "max_length", true)
    if (lo and lo < 0) or (hi and hi < 0) then fail(w, "a length cannot be negative") end
    if lo and hi and lo > hi then fail(w, "min_length is greater than max_length") end
  elseif is_numeric then
    local lo = check_bound(w, f, "min", ftype == "integer")
    local hi = check_bound(w, f, "max", ftype == "integer")
    if lo and hi and lo > hi then fail(w, "min is greater than max") end
  end

  local enum = rawget(f, "enum")
  if enum ~= nil then
    if type(enum) ~= "table" then fail(w, "enum must be a list") end
    for i = 1, check_list(w, enum, "enum") do check_literal(w, f, rawget(enum, i), ftype, "an enum value") end
  end
  local default = rawget(f, "default")
  if default ~= nil then
    check_literal(w, f, default, ftype, "the default")
    local found = type(enum) ~= "table"
    if not found then
      for i = 1, rawlen(enum) do
        if rawequal(rawget(enum, i), default) then found = true break end
      end
    end
    if not found then fail(w, "the default is not one of the enum values") end
  end

  optional(w, f, "alias", name_ok, "alias must be a name")
  local wire = rawget(f, "wire")
  if wire ~= nil then
    if type(wire) ~= "table" then fail(w, "wire must be a list of names") end
    for i = 1, check_list(w, wire, "wire") do
      if not name_ok(rawget(wire, i)) then fail(w, "wire must be a list of names") end
    end
  end

  local fields = rawget(f, "fields")
  if ftype == "object" then
    if type(fields) ~= "table" then fail(w, "an object needs a fields list") end
    check_fields(w, fields)
  elseif fields ~= nil then
    fail(w, "fields belong to an object, not to a " .. ftype)
  end

  local format = word(w, f, "format", is_string, URL, 'format = "url" is for strings', 'format must be "url"')
  local transform = word(w, f, "transform", is_string, DATA_URI, 'transform = "data_uri" is for strings',
    'transform must be "data_uri"')
  if transform ~= nil and format ~= nil then fail(w, 'transform = "data_uri" already accepts URLs: drop format') end
  if rawget(f, "max_bytes") ~= nil then
    if transform == nil then fail(w, 'max_bytes goes with transform = "data_uri"') end
    if check_bound(w, f, "max_bytes", true) < 1 then fail(w, "max_bytes must be positive") end
  end
  word(w, f, "duration", is_numeric, DURATIONS, "duration is for an integer or number", 'duration must be "s" or "ms"')
  return ftype
end

-- A fields list: each field, unique names and aliases, required_unless naming boolean siblings.
function check_fields(w, list)
  local saved, names = w.path, {} -- name or alias -> the field's type
  local n = check_list(w, list, "fields", true)
  for i = 1, n do
    w.path = saved
    local f = rawget(list, i)
    if type(f) ~= "table" then fail(w, "fields[" .. i .. "] is not a table") end
    local name = rawget(f, "name")
    if not name_ok(name) or cstr(name):find(".", 1, true) then fail(w, "fields[" .. i .. "] has no name") end
    w.path = join_path(saved, name)
    local ftype = check_field(w, f)
    for _, v in ipairs({ name, rawget(f, "alias") }) do
      if names[v] ~= nil then fail(w, 'the name "' .. cstr(v) .. '" is used twice') end
      names[v] = ftype
    end
  end
  for i = 1, n do
    local f = rawget(list, i)
    w.path = join_path(saved, rawget(f, "name"))
    local ru = rawget(f, "required_unless")
    if ru ~= nil then
      if type(ru) ~= "table" then fail(w, "required_unless must be a list of boolean fields") end
      if rawget(f, "required") == true then fail(w, "required and required_unless together") end
      for k = 1, check_list(w, ru, "required_unless") do
        local v = rawget(ru, k)
        if type(v) ~= "string" then fail(w, "required_unless must be a list of boolean fields") end
        if names[v] ~= "boolean" then
          fail(w, 'required_unless names "' .. cstr(v) .. '", which is not a boolean field here')
        end
      end
    end
  end
  w.path = saved
end

local function check_model(entry, name)
  local w = { model = name, path = "" }
  if type(entry) ~= "table" then fail(w, "the entry is not a table") end
  for k in next, entry do
    if not MODEL_KEYS[cstr(k)] then fail(w, 'unknown key "' .. show(k) .. '" (fields, response, format, doc)') end
  end
  local fields = rawget(entry, "fields")
  if type(fields) ~= "table" then fail(w, "the entry has no fields list") end
  check_fields(w, fields)
  optional(w, entry, "doc", is_str, "doc must be a string")
  optional(w, entry, "format", audio_format, "format must be mp3, wav or pcm")
  local response = rawget(entry, "response")
  if response == nil then return end
  if type(response) ~= "table" then fail(w, "response must be a list of {from =, to =}") end
  local n = check_list(w, response, "response", true)
  if n > MAX_RESPONSE then fail(w, "response holds at most " .. MAX_RESPONSE .. " entries") end
  for i = 1, n do
    local m = rawget(response, i)
    if type(m) ~= "table" then fail(w, "response must be a list of {from =, to =}") end
    for k in next, m do
      if cstr(k) ~= "from" and cstr(k) ~= "to" then fail(w, "response[" .. i .. "] has an unknown key (from, to)") end
    end
    local to = rawget(m, "to")
    if not name_ok(rawget(m, "from")) or not name_ok(to) then
      fail(w, "response[" .. i .. "] needs from and to, both names")
    end
    if ST_RESERVED[cstr(to)] then fail(w, "response[" .. i .. "] cannot set st." .. cstr(to)) end
  end
end

local checked = setmetatable({}, { __mode = "k" }) -- entry -> true once it has passed

-- Raises unless the entry (of the model named name) is well formed; checks each entry once, so
-- a model added at run time is checked on its first use.
function M.ensure(entry, name)
  if checked[entry] then return end -- checked has no __index: a plain read
  check_model(entry, cstr(name) or tostring(name))
  rawset(checked, entry, true)
end

-- check_models(models) --> models; raises naming the first model and field at fault.
function M.check_models(models)
  if type(models) ~= "table" then
    error("bad argument #1 to 'check_models' (table expected, got " .. type(models) .. ")", 0)
  end
  for name, entry in next, models do
    if type(name) ~= "string" then error("model table: a model name is not a string", 0) end
    M.ensure(entry, name)
  end
  return models
end

return M
