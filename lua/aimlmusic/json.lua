--- JSON for the library's Lua modules, from one place: a private instance of lua-cjson, or,
-- where lua-cjson cannot be required (a Neovim without it), of Neovim's vim.json, which is
-- lua-cjson built into the editor. A private instance (`new()`) keeps the user's cjson
-- settings out of the library and the library's out of the user's. Forward slashes are
-- written as they are (paths, URLs and model names stay readable): by the library's setting
-- where it has one, else by undoing its `\/` escapes after encoding (lua-cjson 2.1.0).
-- `source` names what was picked. The C core finds its JSON the same way (src/json.c).
-- @module aimlmusic.json

local ok, cjson = pcall(require, "cjson")
local source = "lua-cjson"
if not ok then
  local vim = rawget(_G, "vim")
  if type(vim) ~= "table" or type(vim.json) ~= "table" or not vim.json.new then
    error("aimlmusic needs lua-cjson: " .. tostring(cjson), 0)
  end
  cjson, source = vim.json, "vim.json"
end

local json = cjson.new()
if json.encode_escape_forward_slash then
  json.encode_escape_forward_slash(false)
else
  local encode = json.encode
  -- Escapes are read left to right in pairs, so `\\/` (a backslash, then a slash) stays right.
  local function unescape(c) return c == "/" and "/" or "\\" .. c end
  json.encode = function(v) return (encode(v):gsub("\\(.)", unescape)) end
end
json.source = source
return json
