--- Audio given as a URL, a data: URI or a local file, for a field with transform = "data_uri":
-- which of the three a value is, and whether it passes (an http(s) URL with a host; a
-- data:audio/<type>;base64 URI of base64 that decodes to at most max_bytes; a local audio file,
-- read by the core: `core.datauri_read`, on a worker inside a task, which sniffs its type and
-- encodes it). The messages are the validator's (aimlmusic.validate).
-- @module aimlmusic.datauri

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local core = require "aimlmusic.core"
local cut_nul = require("aimlmusic.errors").cut_nul

local find, format, lower, sub = string.find, string.format, string.lower, string.sub
local floor = math.floor
local read = core.datauri_read

local M = {}

-- Whether s starts with the lower-case ASCII p, in any case.
local function prefix(s, p)
  return lower(sub(s, 1, #p)) == p
end

--- Whether s is an http(s) URL with a host and no space or control byte.
function M.is_url(s)
  local host
  if prefix(s, "https://") then host = 9 elseif prefix(s, "http://") then host = 8 else return false end
  local c = sub(s, host, host)
  if c == "" or c == "/" or c == "?" or c == "#" then return false end
  return not find(s, "[^\33-\126\128-\255]")
end
local is_url = M.is_url

-- "1 MB" for a whole number of megabytes, else "N bytes".
local function size(bytes)
  if bytes >= 1e6 and bytes % 1e6 == 0 then return format("%d MB", floor(bytes / 1e6)) end
  return format("%d bytes", floor(bytes))
end

-- What a local file core.datauri_read refused for: its problem, then the detail it gives.
local READ_PROBLEM = {
  errno = 'cannot read the audio file "%s": %s',
  not_regular = 'cannot read the audio file "%s": not a regular file',
  too_big = 'the audio file "%s" has %d bytes, more than the limit of %s',
  not_audio = 'the file "%s" is not mp3, wav, flac, ogg or m4a audio',
}

--- What core.datauri_read(path, max_bytes, ...) gave: its data URI (true without build), or
-- false and the message.
function M.read_result(path, max_bytes, got, problem, detail)
  if got then return got end
  return false, format(READ_PROBLEM[problem], cut_nul(path), detail, size(max_bytes or 0))
end

-- "data:<mime>;base64,<payload>": checked, and its decoded size against the limit.
local function check_data_uri(s, max_bytes)
  local n, comma = #s, find(s, ",", 1, true)
  if not comma or comma - 1 < 12 or lower(sub(s, comma - 7, comma - 1)) ~= ";base64"
    or not prefix(sub(s, 6), "audio/") then
    return false, "must be data:audio/<type>;base64,<data> when it is a data: URI"
  end
  local pad, bad = 0, find(s, "[^A-Za-z0-9+/]", comma + 1)
  if bad then
    -- up to two "=" at the very end pad the data; anything after a pad is not base64
    if sub(s, bad, bad) ~= "=" or bad < n - 1 then
      return false, format("has a character that is not base64 at offset %d", bad - 1)
    end
    local after = find(s, "[^=]", bad + 1)
    if after then return false, format("has a character that is not base64 at offset %d", after - 1) end
    pad = n - bad + 1
  end
  local len = n - comma
  if len == 0 or len % 4 ~= 0 then return false, "has base64 data of a length that is not a multiple of 4" end
  local bytes = len * 3 / 4 - pad
  if max_bytes > 0 and bytes > max_bytes then
    return false, "is audio of " .. tostring(bytes) .. " bytes, more than the limit of " .. size(max_bytes)
  end
  return true
end

--- The string s as audio of at most max_bytes (0: no limit). Returns true (and, with build, what
-- is sent: s itself, or the file read as data:<mime>;base64,...), or false and the problem.
-- files: what a task read ahead on a worker (path -> data URI, or {message}); a path not in it
-- is read here, which waits for the disk (outside a task only: aimlmusic.validate).
function M.check(s, max_bytes, build, files)
  if prefix(s, "http://") or prefix(s, "https://") then
    if not is_url(s) then return false, "is not a valid http(s) URL" end
  elseif prefix(s, "data:") then
    local ok, msg = check_data_uri(s, max_bytes)
    if not ok then return false, msg end
  else
    local i = find(s, "[:/]")
    if i and sub(s, i, i + 2) == "://" then
      return false, "must be an http(s) URL, a data: URI or the path of a local audio file"
    end
    if s == "" or find(s, "\0", 1, true) then
      return false, format('cannot read the audio file "%s": not a file name', cut_nul(s))
    end
    local got = files and files[s]
    if type(got) == "table" then return false, got[1] end
    if type(got) ~= "string" then
      local msg
      got, msg = M.read_result(s, max_bytes, read(s, max_bytes, build))
      if not got then return false, msg end
    end
    if build then return true, got end
    return true
  end
  if build then return true, s end
  return true
end

return M
