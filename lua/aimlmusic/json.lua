--- JSON for the library's Lua modules: the core's own codec (src/json.c), so the library needs
-- no other module and shares no settings with a user's JSON library. `encode` raises on a value
-- it cannot write and `decode` on a text that is not JSON (callers pcall them); `null` is what a
-- JSON null decodes to and what encodes as one (the light userdata NULL, as lua-cjson's null).
-- Forward slashes are written as they are: paths, URLs and model names stay readable.
-- @module aimlmusic.json

local core = require "aimlmusic.core"

local encode, decode = core.json_encode, core.json_decode

local M = { null = core.json_null }

function M.encode(v)
  local s, why = encode(v)
  if s == nil then error(why, 2) end
  return s
end

function M.decode(s)
  local v, why = decode(s)
  if v == nil then error(why, 2) end
  return v
end

return M
