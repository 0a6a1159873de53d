-- Scale: NJOBS jobs in one Lua state, each a task that submits, waits (the server answers
-- "completed" at the first poll) and downloads the audio (256 KiB) into OUT_DIR, removing the
-- file once it is there (with "keep", the files stay: the caller removes them, so no unlink
-- is mixed into what is measured); driven by music.run(). Prints what completed.
-- usage: lua scale_module.lua API_URL NJOBS PARAMS_JSON OUT_DIR [keep]
local api, njobs, params_path, out_dir, keep = arg[1], tonumber(arg[2]), arg[3], arg[4], arg[5] == "keep"

local cjson = require "cjson"
local music = require "aimlmusic"

local f = assert(io.open(params_path, "rb"))
local params = cjson.decode(f:read("*a"))
f:close()

local client = assert(music.new { api_key = "test-key", base_url = api })
local ok, failed, bytes, first_error = 0, 0, 0, nil
for i = 1, njobs do
  music.spawn(function()
    local path = ("%s/%d.mp3"):format(out_dir, i)
    local st, err = client:generate(params, { interval = 0.5, output = path })
    if st and st.bytes then
      ok, bytes = ok + 1, bytes + st.bytes
      if not keep then os.remove(path) end
    else
      failed = failed + 1
      first_error = first_error or tostring(err)
    end
  end)
end
music.run()
print(("jobs %d ok %d failed %d bytes %d"):format(njobs, ok, failed, bytes))
if first_error then
  io.stderr:write("first error: ", first_error, "\n")
  os.exit(1)
end
