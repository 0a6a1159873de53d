-- Download: client:download of one URL to PATH. With URL "idle" it only loads the module and
-- makes a client: the idle interpreter the download's peak memory is compared with.
-- usage: lua download_module.lua URL|idle PATH
local url, path = arg[1], arg[2]

local music = require "aimlmusic"

local client = assert(music.new { api_key = "test-key", base_url = "http://127.0.0.1" })
if url == "idle" then
  print("idle")
  return
end
local info = assert(client:download(url, path, { overwrite = true }))
print("bytes " .. info.bytes)
