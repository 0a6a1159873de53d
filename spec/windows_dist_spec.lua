-- Windows without a compiler: the zip of `make windows-dist`, unzipped into a fresh wine prefix
-- that holds nothing else, runs `aimlmusic.cmd generate` against the mock on Linux's loopback.
-- Tagged #windows: `make windows-test` runs it (on Linux, driving wine) with AIMLMUSIC_WIN_DIST
-- naming the zip.

local fixture = require "support.fixture"
local util = require "support.util"

local q = util.q

describe("the Windows zip #windows", function()
  local env = fixture.mock_client { duration = 0.3, client = false }

  local zip, name, wine, drive_c, home

  setup(function()
    zip = assert(os.getenv("AIMLMUSIC_WIN_DIST"), "AIMLMUSIC_WIN_DIST names the zip (make windows-test)")
    name = zip:match("([^/]+)%.zip$")
    local prefix = env.dir .. "/prefix"
    wine = "env -u XDG_STATE_HOME -u LUA_PATH -u LUA_CPATH -u HOME WINEPREFIX=" .. q(prefix)
      .. " WINE_TIMEOUT=300 " .. q(util.repo_root() .. "/tools/windows/wine.sh")
    -- The prefix is made by the first wine call (wineboot -i), then the zip goes into C:\.
    local log = util.sh(wine .. " cmd /c ver 2>&1; echo rc=$?")
    assert(log:match("rc=0%s*$"), log)
    drive_c = prefix .. "/drive_c"
    assert(util.execute("cd " .. q(drive_c) .. " && unzip -q " .. q(zip)), "unzip " .. zip)
    home = "C:\\" .. name
  end)

  -- The zip has no luv: the mock says so in Windows words, not with apt.
  it("says where the mock can run instead of naming apt", function()
    local log = util.sh("cd " .. q(drive_c) .. " && " .. wine .. " cmd /c " .. q(home .. "\\aimlmusic.cmd")
      .. " mock </dev/null 2>&1; echo rc=$?")
    log = log:gsub("\r", "")
    assert.matches("the Windows zip has none", log)
    assert.is_nil(log:find("apt install", 1, true), log)
    assert.matches("rc=1%s*$", log)
  end)

  it("is a LuaJIT that loads the library from where it lies", function()
    local log = util.sh("cd " .. q(drive_c) .. " && " .. wine .. " " .. q(home .. "\\luajit.exe") .. " -e "
      .. q("local m = require 'aimlmusic'; print(m._VERSION, m.validate{model = 'minimax/music-2.0'})")
      .. " </dev/null 2>&1; echo rc=$?")
    -- validate is the core's (core.dll), with its own JSON: the zip has no other module.
    local want = "^aimlmusic %d+%.%d+%.%d+\tnil\taimlmusic: validation: [^\n]*prompt[^\n]*\nrc=0%s*$"
    assert.matches(want, (log:gsub("\r", "")))
    local files = util.sh("cd " .. q(drive_c .. "/" .. name) .. " && find . -name '*.dll' | LC_ALL=C sort")
    assert.equal("./aimlmusic/core.dll\n./libcurl-x64.dll\n./lua/aimlmusic/core.dll\n./lua51.dll\n", files)
  end)

  -- What a Windows user reads first. Each file it names is in the zip, and each licence in
  -- licenses\ is named (the mingw-w64 runtime's was missing).
  it("has a README.txt that names what is in the folder", function()
    local readme = assert(util.read_file(drive_c .. "/" .. name .. "/README.txt"))
    for _, rel in ipairs({ "aimlmusic.cmd", "luajit.exe", "luajit.exe.manifest", "doc\\install.md",
      "doc\\api.md", "libcurl-x64.dll" }) do
      assert.is_truthy(readme:find(rel, 1, true), rel .. " not in README.txt:\n" .. readme)
      local path = drive_c .. "/" .. name .. "/" .. rel:gsub("\\", "/")
      assert.is_truthy(util.read_file(path), rel .. " is not in the zip")
    end
    local licences = { ["LuaJIT.txt"] = "LuaJIT", ["curl.txt"] = "curl", ["aimlmusic.txt"] = "aimlmusic",
      ["mingw-w64.txt"] = "mingw-w64" }
    local files = util.sh("cd " .. q(drive_c .. "/" .. name .. "/licenses") .. " && ls")
    for f in files:gmatch("[^\n]+") do
      local what = assert(licences[f], "licenses\\" .. f .. ": unexpected")
      assert.is_truthy(readme:find(what, 1, true), what .. " is not named in README.txt")
    end
    assert.is_truthy(readme:find("call aimlmusic.cmd", 1, true), "README.txt: no word on batch files")
    assert.is_truthy(readme:find("set AIMLAPI_KEY=", 1, true), "README.txt: no word on the key")
  end)

  -- luajit.exe's C runtime gives Lua its arguments in the ANSI code page (1252 under wine, as on
  -- a Western Windows): without luajit.exe.manifest, "Café" was refused as invalid UTF-8, an
  -- output path with "ö" was refused, and Japanese text was submitted as "???".
  it("takes arguments that are not ASCII as UTF-8: the prompt submitted as typed, a path with ö", function()
    local json = require "aimlmusic.json"
    util.mkdir(drive_c .. "/Jörg")
    local prompt = "Café piano, 日本の夜, for a title screen"
    local before = #env.mock:requests()
    local cmd = table.concat({
      "cd " .. q(drive_c) .. " &&",
      "AIMLAPI_BASE_URL=" .. q(env.mock.api_url), "AIMLAPI_KEY=" .. q(env.mock.key),
      wine, "cmd /c", q(home .. "\\aimlmusic.cmd"), "generate", "-p", q(prompt),
      "-l", q(util.PARAMS.lyrics), "-o", q("C:\\Jörg\\lied-ö.mp3"), "--interval 0.1 </dev/null 2>&1; echo rc=$?",
    }, " ")
    local log = util.sh(cmd)
    assert.matches("rc=0%s*$", log)
    local sent
    for i, r in ipairs(env.mock:requests()) do
      if i > before and r.method == "POST" and r.host ~= "cdn" and (r.body or ""):find("prompt", 1, true) then
        sent = json.decode(r.body).prompt
      end
    end
    assert.equal(prompt, sent)
    assert.is_true(#(util.read_file(drive_c .. "/Jörg/lied-ö.mp3") or "") > 0, log)
  end)

  -- What Neovim does: its LuaJIT (here one in a folder of its own, as nvim.exe's) loads
  -- lua\aimlmusic\core.dll from the runtimepath folder, which is on PATH for libcurl-x64.dll.
  it("loads lua\\aimlmusic\\core.dll from a host elsewhere, the folder on PATH", function()
    util.mkdir(drive_c .. "/host")
    assert(util.execute("cp " .. q(drive_c .. "/" .. name .. "/luajit.exe") .. " " .. q(drive_c .. "/" .. name
      .. "/lua51.dll") .. " " .. q(drive_c .. "/host/")))
    util.write_file(drive_c .. "/host/probe.lua", "package.path = [[" .. home .. "\\lua\\?.lua;]] .. package.path\n"
      .. "package.cpath = [[" .. home .. "\\lua\\?.dll;" .. home .. "\\?.dll;]] .. package.cpath\n"
      .. "print(type(require 'aimlmusic.core'))\n")
    local run = "cd " .. q(drive_c) .. " && " .. wine .. " cmd /c "
    local without = util.sh(run .. q("C:\\host\\luajit.exe C:\\host\\probe.lua") .. " </dev/null 2>&1")
    -- Not found: libcurl-x64.dll is neither beside the host nor on PATH.
    assert.matches("core.dll", without)
    local with = util.sh(run .. q("set PATH=" .. home .. ";%PATH% && C:\\host\\luajit.exe C:\\host\\probe.lua")
      .. " </dev/null 2>&1; echo rc=$?")
    assert.matches("table%s+rc=0%s*$", with)
  end)

  it("runs aimlmusic.cmd generate in a fresh wine prefix: a playable track, the journal written", function()
    local cmd = table.concat({
      "cd " .. q(drive_c) .. " &&",
      "AIMLAPI_BASE_URL=" .. q(env.mock.api_url), "AIMLAPI_KEY=" .. q(env.mock.key),
      wine, "cmd /c", q(home .. "\\aimlmusic.cmd"), "generate", "-p", q(util.PARAMS.prompt),
      "-l", q(util.PARAMS.lyrics), "-o", q("C:\\track.mp3"), "--interval 0.1 </dev/null 2>&1; echo rc=$?",
    }, " ")
    local log = util.sh(cmd)
    assert.matches("rc=0%s*$", log)

    -- The track: the bytes the CDN serves, an MP3 stream (frame sync 0xFFE).
    local track = util.read_file(drive_c .. "/track.mp3")
    assert.is_truthy(track and #track > 0, log)
    local jobs = env.mock:jobs()
    local job = jobs[#jobs]
    local st = assert(require("aimlmusic").new { api_key = env.mock.key, base_url = env.mock.api_url }
      :status(job.id))
    assert.equal(util.fetch(st.url), track)
    local b1, b2 = track:byte(1, 2)
    assert.is_true(track:sub(1, 3) == "ID3" or (b1 == 0xFF and b2 >= 0xE0), "not an MP3 stream")

    -- The journal, where Windows keeps a user's local data: the job submitted and delivered.
    local found = util.sh("find " .. q(drive_c .. "/users") .. " -path '*/AppData/Local/aimlmusic/jobs.journal'")
    local path = found:match("[^\n]+")
    assert(path, "no jobs.journal under %LOCALAPPDATA% in the prefix:\n" .. log)
    local journal = util.read_file(path)
    local id = job.id:match("^[^:]+") -- the rest, JSON-escaped, reads minimax\/music-2.0
    local ops = {}
    for line in journal:gmatch("[^\r\n]+") do
      if line:find(id, 1, true) then ops[#ops + 1] = line:match('"op":"(%a+)"') end
    end
    assert.is_truthy(ops[1] == "submit" and ops[#ops] == "delivered", journal)
  end)
end)
