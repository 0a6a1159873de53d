-- aimlmusic.mock.util: the small helpers the parts of the mock share: one JSON instance, JSON's
-- null, random identifiers, numbers and times as the provider writes them.

local json = require "aimlmusic.json"

local M = { json = json }

M.HEX = "0123456789abcdef"
M.ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

--- True for nil and for JSON's null.
function M.isnull(v)
  return v == nil or v == json.null
end

--- True for a non-empty list (what cjson decodes a JSON array to).
function M.is_array(t)
  return type(t) == "table" and t[1] ~= nil
end

--- A shallow copy.
function M.copy(t)
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  return r
end

--- A list as JSON: cjson cannot tell an empty list from an empty object.
function M.encode_list(list)
  if #list == 0 then return "[]" end
  return json.encode(list)
end

--- n characters drawn from alphabet.
function M.rand_chars(alphabet, n)
  local t = {}
  for i = 1, n do
    local d = math.random(1, #alphabet)
    t[i] = alphabet:sub(d, d)
  end
  return table.concat(t)
end

--- A random (version 4) UUID.
function M.uuid4()
  local h = M.rand_chars(M.HEX, 32)
  local variant = M.rand_chars("89ab", 1)
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-4" .. h:sub(14, 16) .. "-" .. variant .. h:sub(18, 20)
    .. "-" .. h:sub(21, 32)
end

--- A number as a whole decimal, without an exponent.
function M.fmt_int(n)
  return string.format("%d", math.floor(n))
end

--- Bytes as lower-case hex.
function M.hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

--- Seconds since the epoch, with luv's microseconds when there are.
function M.wall_time(uv)
  if uv and uv.gettimeofday then
    local s, us = uv.gettimeofday()
    if s then return s + (us or 0) / 1e6 end
  end
  return os.time()
end

--- A time as the provider's timestamps: 2026-01-02T03:04:05.678Z.
function M.iso8601(t)
  local s = math.floor(t)
  local ms = math.floor((t - s) * 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. string.format(".%03dZ", ms)
end

return M
