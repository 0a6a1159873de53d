-- The one error shape of DESIGN.md: its metatable (made by the core, which builds the errors of
-- C functions with it; its face is given here), errors made in Lua, the escaping of text a
-- server sent (for an error's face and a command line's output), and the one way misuse of the
-- API raises.

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local core = require "aimlmusic.core"

local byte, find, format, gsub, sub = string.byte, string.find, string.format, string.gsub, string.sub
local concat = table.concat

local M = {}

local MT = core.error_mt

-- The length (2 to 4) and code point of the valid UTF-8 sequence at i of s, or nil: no overlong
-- form, surrogate or value past U+10FFFF (src/utf8.c's rule).
local function utf8_at(s, i, n)
  local c = byte(s, i)
  local len, cp
  if c >= 0xc2 and c <= 0xdf then len, cp = 2, c - 0xc0
  elseif c >= 0xe0 and c <= 0xef then len, cp = 3, c - 0xe0
  elseif c >= 0xf0 and c <= 0xf4 then len, cp = 4, c - 0xf0
  else return nil end
  if i + len - 1 > n then return nil end
  for k = i + 1, i + len - 1 do
    local b = byte(s, k)
    if b < 0x80 or b > 0xbf then return nil end
    cp = cp * 64 + (b - 0x80)
  end
  if (len == 3 and (cp < 0x800 or (cp >= 0xd800 and cp <= 0xdfff))) or (len == 4 and (cp < 0x10000 or cp > 0x10ffff)) then
    return nil
  end
  return len, cp
end

-- Code points a terminal or a log reader acts on: C1 controls, line and paragraph separators,
-- and the bidirectional overrides that make text read other than it is.
local function unsafe(cp)
  return (cp >= 0x80 and cp <= 0x9f) or cp == 0x2028 or cp == 0x2029 or (cp >= 0x202a and cp <= 0x202e)
    or (cp >= 0x2066 and cp <= 0x2069)
end

local WHITE = { [9] = "\\t", [10] = "\\n", [13] = "\\r" }

-- A run of bytes outside printable ASCII, escaped (see M.escape).
local function escape_run(run, json)
  local out, i, n = {}, 1, #run
  while i <= n do
    local c = byte(run, i)
    local len, cp = nil, nil
    if c >= 0x80 then len, cp = utf8_at(run, i, n) end
    if not json and WHITE[c] then
      out[#out + 1] = WHITE[c]
      i = i + 1
    elseif len and not unsafe(cp) then
      out[#out + 1] = sub(run, i, i + len - 1)
      i = i + len
    elseif json and (len or c < 0x80) then
      out[#out + 1] = format("\\u%04x", cp or c)
      i = i + (len or 1)
    else
      for k = i, i + (len or 1) - 1 do out[#out + 1] = format(json and "\\\\x%02x" or "\\x%02x", byte(run, k)) end
      i = i + (len or 1)
    end
  end
  return concat(out)
end

--- s with every control character, invalid UTF-8 byte and unsafe code point written as a
-- visible escape (\n, \x1b, \xc2\x9b), so that text from a server can neither break the line
-- nor drive the terminal that shows it. With mode "json", s is an encoded JSON text and stays
-- one: a control character or unsafe code point becomes \u001b, \u202e (the same value), an
-- invalid byte the text \\x9b inside its string.
function M.escape(s, mode)
  if type(s) == "number" then s = tostring(s) end
  if type(s) ~= "string" then error("aimlmusic.escape: bad argument #1 (string expected, got " .. type(s) .. ")", 2) end
  if mode ~= nil and mode ~= "text" and mode ~= "json" then
    error("aimlmusic.escape: bad argument #2 (invalid option '" .. tostring(mode) .. "')", 2)
  end
  if not find(s, "[^\32-\126]") then return s end
  local json = mode == "json"
  return (gsub(s, "[^\32-\126]+", function(run) return escape_run(run, json) end))
end
local escape = M.escape

local function shown(v)
  local t = type(v)
  return (t == "string" or t == "number") and escape(v) or nil
end

local LABELS = { { "status", "HTTP" }, { "code", "code" }, { "id", "id" }, { "request_id", "request_id" },
                 { "trace_id", "trace_id" } }

-- "aimlmusic: rate_limited: Too many requests (HTTP 429, request_id abc)": one line, every field
-- escaped.
MT.__tostring = function(e)
  local parts = { "aimlmusic: ", shown(e.kind) or "error", ": ", shown(e.message) or "" }
  local first = true
  for _, l in ipairs(LABELS) do
    local v = shown(e[l[1]])
    if v then
      parts[#parts + 1] = (first and " (" or ", ") .. l[2] .. " " .. v
      first = false
    end
  end
  if not first then parts[#parts + 1] = ")" end
  return concat(parts)
end

--- Whether v is an error of the one shape (made by the core or by this module).
function M.is_error(v)
  return type(v) == "table" and getmetatable(v) == MT
end

--- fields as an error: kind a string, message the kind when not a string, retryable false when
-- not a boolean.
function M.make(fields)
  if type(fields) ~= "table" then
    error("aimlmusic.error: bad argument #1 (table expected, got " .. type(fields) .. ")", 2)
  end
  if type(fields.kind) ~= "string" then error("aimlmusic.error: bad argument #1 (kind must be a string)", 2) end
  if type(fields.message) ~= "string" then fields.message = fields.kind end
  if type(fields.retryable) ~= "boolean" then fields.retryable = false end
  return setmetatable(fields, MT)
end

-- An error of that kind and message, with the other fields of the shape given in fields.
function M.new(kind, message, fields)
  fields = fields or {}
  fields.kind, fields.message = kind, message
  return M.make(fields)
end

-- s up to its first NUL: as much of a string as an error's message (a C string) ever showed.
function M.cut_nul(s)
  local z = s:find("\0", 1, true)
  return z and s:sub(1, z - 1) or s
end

-- Raises at the caller of the public function fname when argument i is not what it expects.
function M.argcheck(cond, fname, i, expected, v)
  if not cond then
    error(("aimlmusic.%s: bad argument #%d (%s expected, got %s)"):format(fname, i, expected, type(v)), 3)
  end
end

return M
