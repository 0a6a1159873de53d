-- aimlmusic.mock.validate: the library's model table (aimlmusic.models) applied on the
-- service's side to what arrives, by the names sent on the wire, with the provider's messages.

local util = require("aimlmusic.mock.util")

local isnull, is_array, fmt_int = util.isnull, util.is_array, util.fmt_int

local M = {}

local MB = 1000 * 1000

local function contains(list, v)
  for i = 1, #list do
    if list[i] == v then return true end
  end
  return false
end

local function join(list)
  local t = {}
  for i = 1, #list do t[i] = tostring(list[i]) end
  return table.concat(t, ", ")
end

local function model_names(models)
  local names = {}
  for name in pairs(models) do names[#names + 1] = name end
  table.sort(names)
  return names
end

-- Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
-- Returns the number of code points, or nil for invalid UTF-8.
local function utf8_len(s)
  local i, n, len = 1, #s, 0
  while i <= n do
    local c = s:byte(i)
    local need
    if c < 0x80 then
      need = 0
    elseif c >= 0xC2 and c <= 0xDF then
      need = 1
    elseif c >= 0xE0 and c <= 0xEF then
      need = 2
    elseif c >= 0xF0 and c <= 0xF4 then
      need = 3
    else
      return nil
    end
    if i + need > n then return nil end
    for k = 1, need do
      local b = s:byte(i + k)
      if b < 0x80 or b > 0xBF then return nil end
    end
    if need >= 2 then
      local b = s:byte(i + 1)
      if (c == 0xE0 and b < 0xA0) or (c == 0xED and b > 0x9F)
        or (c == 0xF0 and b < 0x90) or (c == 0xF4 and b > 0x8F) then
        return nil
      end
    end
    i = i + need + 1
    len = len + 1
  end
  return len
end
M.utf8_len = utf8_len

-- base64, for the audio that comes as a data: URI
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64_VALUE = {}
for i = 1, 64 do B64_VALUE[B64:byte(i)] = i - 1 end

--- The bytes of base64 text, or nil when it is not base64.
function M.base64_decode(s)
  if #s % 4 ~= 0 then return nil end
  local out, chunk = {}, {}
  for i = 1, #s, 4 do
    local a, b, c, d = s:byte(i, i + 3)
    local va, vb, vc, vd = B64_VALUE[a], B64_VALUE[b], B64_VALUE[c], B64_VALUE[d]
    local last = i + 3 == #s
    if not va or not vb then return nil end
    if last and d == 61 then vd = 0 end
    if last and c == 61 and d == 61 then vc = 0 end
    if not vc or not vd then return nil end
    local n = ((va * 64 + vb) * 64 + vc) * 64 + vd
    local x, y, z = math.floor(n / 65536), math.floor(n / 256) % 256, n % 256
    if last and c == 61 then
      chunk[#chunk + 1] = string.char(x)
    elseif last and d == 61 then
      chunk[#chunk + 1] = string.char(x, y)
    else
      chunk[#chunk + 1] = string.char(x, y, z)
    end
    if #chunk >= 4096 then
      out[#out + 1] = table.concat(chunk)
      chunk = {}
    end
  end
  out[#out + 1] = table.concat(chunk)
  return table.concat(out)
end

local function fmt_bytes(n)
  if n >= MB and n % MB == 0 then return fmt_int(n / MB) .. " MB" end
  return fmt_int(n) .. " bytes"
end

-- The value of a field in a wire object: under any of its wire names.
local function wire_value(obj, spec)
  for _, w in ipairs(spec.wire or { spec.name }) do
    if not isnull(obj[w]) then return obj[w], w end
  end
  return nil, (spec.wire or { spec.name })[1]
end
M.wire_value = wire_value

local function is_url(s)
  local lower = s:lower()
  return (lower:match("^https?://[^/?#%s]") ~= nil) and not s:find("[%z\1-\32\127]")
end

-- A data:audio/...;base64,... value: nil and a problem, or the decoded bytes and the MIME type.
local function data_uri(v, name, max_bytes)
  local mime, payload = v:match("^[Dd][Aa][Tt][Aa]:(audio/[^;,]+)[^,]*;[Bb][Aa][Ss][Ee]64,(.*)$")
  if not mime then return nil, name .. " must be a URL address or a base64 data URI of audio" end
  local bytes = M.base64_decode(payload)
  if not bytes or #bytes == 0 then return nil, name .. " must be valid base64" end
  if max_bytes and #bytes > max_bytes then
    return nil, name .. " must not be larger than " .. fmt_bytes(max_bytes)
  end
  return bytes, mime
end

local check_fields

local function check_field(problems, spec, v, name, inputs)
  local t = spec.type
  if t == "string" then
    if type(v) ~= "string" then
      problems[#problems + 1] = name .. " must be a string"
      return
    end
    local len = utf8_len(v)
    if not len then
      problems[#problems + 1] = name .. " must be a valid UTF-8 string"
      return
    elseif spec.min_length and len < spec.min_length then
      problems[#problems + 1] = name .. " must be longer than or equal to " .. spec.min_length .. " characters"
      return
    elseif spec.max_length and len > spec.max_length then
      problems[#problems + 1] = name .. " must be shorter than or equal to " .. spec.max_length .. " characters"
      return
    end
    if spec.format == "url" and not is_url(v) then
      problems[#problems + 1] = name .. " must be a URL address"
      return
    end
    if spec.transform == "data_uri" and not is_url(v) then
      local bytes, mime = data_uri(v, name, spec.max_bytes)
      if not bytes then
        problems[#problems + 1] = mime
        return
      end
      inputs[name] = { mime = mime, size = #bytes, bytes = bytes }
    end
  elseif t == "integer" or t == "number" then
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge
      or (t == "integer" and v ~= math.floor(v)) then
      problems[#problems + 1] = name .. (t == "integer" and " must be an integer number"
        or " must be a number conforming to the specified constraints")
      return
    end
    if spec.min and v < spec.min then
      problems[#problems + 1] = name .. " must not be less than " .. spec.min
      return
    elseif spec.max and v > spec.max then
      problems[#problems + 1] = name .. " must not be greater than " .. spec.max
      return
    end
  elseif t == "boolean" then
    if type(v) ~= "boolean" then
      problems[#problems + 1] = name .. " must be a boolean value"
      return
    end
  elseif t == "object" then
    if type(v) ~= "table" or is_array(v) then
      problems[#problems + 1] = name .. " must be an object"
      return
    end
    check_fields(problems, spec.fields, v, name .. ".", inputs)
    return
  end
  if spec.enum and not contains(spec.enum, v) then
    problems[#problems + 1] = name .. " must be one of the following values: " .. join(spec.enum)
  end
end

-- True when a boolean field named k of fields is true in obj.
local function flag_true(fields, obj, k)
  for _, spec in ipairs(fields) do
    if spec.name == k then return wire_value(obj, spec) == true end
  end
  return false
end

function check_fields(problems, fields, obj, prefix, inputs)
  for _, spec in ipairs(fields) do
    local v, wname = wire_value(obj, spec)
    local name = prefix .. wname
    if v == nil then
      local needed = spec.required
      if spec.required_unless then
        needed = true
        for _, k in ipairs(spec.required_unless) do
          if flag_true(fields, obj, k) then needed = false end
        end
      end
      if needed then problems[#problems + 1] = name .. " should not be empty" end
    else
      check_field(problems, spec, v, name, inputs)
    end
  end
end

--- Validate a decoded request body against models. Returns a list of problems (empty when
-- valid) and what the audio inputs decoded to ({[field] = {mime, size, bytes}}).
function M.body(models, body)
  local problems, inputs = {}, {}
  if type(body) ~= "table" or is_array(body) then
    problems[1] = "body must be a JSON object"
    return problems, inputs
  end
  local model = body.model
  local entry = type(model) == "string" and models[model] or nil
  if isnull(model) then
    problems[#problems + 1] = "model should not be empty"
  elseif not entry then
    problems[#problems + 1] = "model must be one of the following values: " .. join(model_names(models))
  end
  if entry then check_fields(problems, entry.fields, body, "", inputs) end
  return problems, inputs
end

return M
