-- The command line where there is no HOME (Windows): the journal defaults to
-- %LOCALAPPDATA%\aimlmusic\jobs.journal, its directories made from the drive's root. Runs on
-- every system: under wine LOCALAPPDATA is wine's own (C:\users\...), elsewhere one made here.

local fixture = require "support.fixture"
local util = require "support.util"

local q = util.q
local windows = package.config:sub(1, 1) == "\\"

describe("the command line without HOME", function()
  local env = fixture.mock_client { duration = 0.2, client = false }

  it("keeps its journal under LOCALAPPDATA", function()
    local appdata = windows and os.getenv("LOCALAPPDATA") or util.mkdir(env.dir .. "/appdata")
    local journal = appdata .. "/aimlmusic/jobs.journal"
    local set = windows and "" or "LOCALAPPDATA=" .. q(appdata)
    local out = env.dir .. "/track.mp3"
    local cmd = table.concat({
      "env -u XDG_STATE_HOME -u HOME", set, "AIMLAPI_BASE_URL=" .. q(env.mock.api_url),
      "AIMLAPI_KEY=" .. q(env.mock.key), util.LUA, q(util.repo_root() .. "/bin/aimlmusic"),
      "generate -p", q(util.PARAMS.prompt), "-l", q(util.PARAMS.lyrics), "-o", q(out), "--interval 0.1",
      "</dev/null 2>&1; echo rc=$?",
    }, " ")
    local log = util.sh(cmd)
    assert.matches("rc=0%s*$", log)
    local jobs = env.mock:jobs()
    local id = jobs[#jobs].id:match("^[^:]+") -- the rest, JSON-escaped, reads minimax\/music-2.0
    local text = util.read_file(journal) or ""
    assert.is_truthy(text:find(id, 1, true), "no record of " .. id .. " in " .. journal .. ":\n" .. log)
    assert.is_truthy(text:find('"op":"delivered"', 1, true))
    assert.is_true(#(util.read_file(out) or "") > 0)
  end)

  -- A Windows console shows UTF-8 in its OEM code page ("≥" as "ΓëÑ") unless told chcp 65001:
  -- there the command's own symbols are ASCII; elsewhere they stay what they are.
  it("writes its own symbols in ASCII on Windows", function()
    local out = util.sh(util.LUA .. " " .. q(util.repo_root() .. "/bin/aimlmusic") .. " models google/lyria2 2>&1")
    out = out:gsub("\r", "")
    if windows then
      assert.is_nil(out:find("[\128-\255]"), out)
      assert.matches("^google/lyria2 %- ", out)
      assert.matches("seed +integer +>= 0", out)
    else
      assert.matches("^google/lyria2 — ", out)
      assert.matches("seed +integer +≥ 0", out)
    end
  end)

  -- --help names %APPDATA%\aimlmusic\config; before, with no HOME no file was ever read.
  it("reads its defaults from APPDATA's aimlmusic\\config", function()
    local core = require "aimlmusic.core"
    local sep = package.config:sub(1, 1)
    local appdata = windows and os.getenv("APPDATA") or util.mkdir(env.dir .. "/roaming")
    local dir = appdata .. sep .. "aimlmusic"
    core.mkdir(dir)
    local config = dir .. sep .. "config"
    assert(util.read_file(config) == nil, config .. " is there already")
    util.write_file(config, "model = minimax/music-1.5\n")
    finally(function() os.remove(config) end)
    local set = windows and "" or "APPDATA=" .. q(appdata)
    local cmd = table.concat({
      "env -u XDG_CONFIG_HOME -u HOME", set, util.LUA, q(util.repo_root() .. "/bin/aimlmusic"),
      "validate -p", q(util.PARAMS.prompt), "-l", q(util.PARAMS.lyrics), "--json </dev/null 2>&1; echo rc=$?",
    }, " ")
    local log = util.sh(cmd)
    assert.matches("rc=0%s*$", log)
    assert.matches('"model":"minimax/music%-1%.5"', log)
  end)
end)
