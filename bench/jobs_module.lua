-- Concurrency: NJOBS jobs at once, each a task running client:generate (submit, then a status
-- poll every INTERVAL seconds until completed), against the mock server.
-- usage: lua jobs_module.lua API_URL NJOBS INTERVAL PARAMS_JSON
local api, njobs, interval, params_path = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4]

local cjson = require "cjson"
local music = require "aimlmusic"

local f = assert(io.open(params_path, "rb"))
local params = cjson.decode(f:read("*a"))
f:close()

local client = assert(music.new { api_key = "test-key", base_url = api })
local ok, failed, first_error = 0, 0, nil
for _ = 1, njobs do
  music.spawn(function()
    local st, err = client:generate(params, { interval = interval })
    if st and st.status == "completed" then
      ok = ok + 1
    else
      failed = failed + 1
      first_error = first_error or tostring(err)
    end
  end)
end
music.run()
print(("jobs %d ok %d failed %d"):format(njobs, ok, failed))
if first_error then
  io.stderr:write("first error: ", first_error, "\n")
  os.exit(1)
end
