-- Per-request cost, io.popen of the curl command + cjson: what most Neovim plugins do
-- (vim.fn.system / jobstart of curl come to the same fork+exec per request).
-- usage: lua cycle_popen_curl.lua BASE_URL N PARAMS_JSON
local base, n, params_path = arg[1], tonumber(arg[2]), arg[3]

local cjson = require "cjson"

local f = assert(io.open(params_path, "rb"))
local params = cjson.decode(f:read("*a"))
f:close()

local key = "0f3c9a7e52b14d8c9e6a1b2c3d4e5f60" -- the length of a real key

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function escape(s)
  return (s:gsub("[^%w%-._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function curl(args)
  local p = assert(io.popen("curl -sS --fail -H " .. quote("Authorization: Bearer " .. key)
    .. " -H 'Accept: application/json' " .. args, "r"))
  local out = p:read("*a")
  assert(p:close(), "curl failed")
  return cjson.decode(out)
end

for _ = 1, n do
  local job = curl("-H 'Content-Type: application/json' -d " .. quote(cjson.encode(params)) .. " "
    .. quote(base .. "/v2/generate/audio"))
  local st = curl(quote(base .. "/v2/generate/audio?generation_id=" .. escape(job.id)))
  assert(st.status == "completed" and st.audio_file.url, "unexpected status answer")
end
print("cycles " .. n)
