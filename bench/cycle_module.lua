-- Per-request cost, this module: N submit+status cycles, blocking calls outside any task.
-- usage: lua cycle_module.lua BASE_URL N PARAMS_JSON [CA_FILE [CA_PATH]]
local base, n, params_path, ca_file, ca_path = arg[1], tonumber(arg[2]), arg[3], arg[4], arg[5]

-- A key of the length the service gives (32 hex digits): the module searches every answer for
-- it, and the cost of that grows with the key (the other peers send the same one).
local KEY = "0f3c9a7e52b14d8c9e6a1b2c3d4e5f60"

local cjson = require "cjson"
local music = require "aimlmusic"

local f = assert(io.open(params_path, "rb"))
local params = cjson.decode(f:read("*a"))
f:close()

local client = assert(music.new { api_key = KEY, base_url = base, ca_file = ca_file, ca_path = ca_path })
for _ = 1, n do
  local job = assert(client:submit(params))
  local st = assert(client:status(job.id))
  assert(st.status == "completed" and st.url, "unexpected status answer")
end
print("cycles " .. n)
