-- Per-request cost, LuaSocket + cjson: what a script writes without this module.
-- socket.http opens a connection per request (it sends "Connection: close").
-- usage: lua cycle_luasocket.lua BASE_URL N PARAMS_JSON
local base, n, params_path = arg[1], tonumber(arg[2]), arg[3]

local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"

local f = assert(io.open(params_path, "rb"))
local params = cjson.decode(f:read("*a"))
f:close()

local key = "0f3c9a7e52b14d8c9e6a1b2c3d4e5f60" -- the length of a real key
local concat = table.concat

local function escape(s)
  return (s:gsub("[^%w%-._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function request(method, url, body)
  local out = {}
  local headers = { ["Authorization"] = "Bearer " .. key, ["Accept"] = "application/json" }
  local source
  if body then
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = tostring(#body)
    source = ltn12.source.string(body)
  end
  local ok, code = http.request {
    url = url, method = method, headers = headers, source = source, sink = ltn12.sink.table(out),
  }
  assert(ok and code == 200, "HTTP " .. tostring(code))
  return cjson.decode(concat(out))
end

for _ = 1, n do
  local job = request("POST", base .. "/v2/generate/audio", cjson.encode(params))
  local st = request("GET", base .. "/v2/generate/audio?generation_id=" .. escape(job.id))
  assert(st.status == "completed" and st.audio_file.url, "unexpected status answer")
end
print("cycles " .. n)
