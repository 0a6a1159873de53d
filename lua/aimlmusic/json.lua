--- JSON for the library's Lua modules, from one place: a private instance of lua-cjson, or,
-- where lua-cjson cannot be required (a Neovim without it), of Neovim's vim.json, which is
-- lua-cjson built into the editor. A private instance (`new()`) keeps the user's cjson
-- settings out of the library and the library's out of the user's. Forward slashes are
-- written as they are (paths and URLs stay readable) where the library has the setting.
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
if json.encode_escape_forward_slash then json.encode_escape_forward_slash(false) end
json.source = source
return json
