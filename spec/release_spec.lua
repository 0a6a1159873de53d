-- A release that matches itself: the release rockspec is the scm one with a version and a tag,
-- the CHANGELOG's latest heading, `_VERSION` and the core's version name the same version, and
-- both rockspecs fetch from the Makefile's PROJECT_URL. `make release VERSION=x.y.z` writes all
-- of it (run here in a copy of the files it touches) and refuses what would not agree.

local util = require "support.util"

local q, read_file, write_file, execute = util.q, util.read_file, util.write_file, util.execute
local root = util.repo_root()
local ENV = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL"
local SCM = "rockspecs/aimlmusic-scm-1.rockspec"

-- A rockspec read as the Lua it is.
local function rockspec(path)
  local env = {}
  local s = assert(read_file(path), path)
  local fn = assert((loadstring or load)(s, "@" .. path)) -- luacheck: ignore 113 (Lua 5.1)
  if setfenv then setfenv(fn, env) else fn = assert(load(s, "@" .. path, "t", env)) end -- luacheck: ignore 113
  fn()
  return env
end

-- Runs cmd in dir; returns ok and everything it wrote.
local function run(dir, cmd)
  local log = os.tmpname()
  -- (Without the sanitizer make asan preloads: the tools here are not the module.)
  local ok = execute("cd " .. q(dir) .. " && unset LD_PRELOAD && (" .. cmd .. "\n) >" .. q(log) .. " 2>&1")
  local out = read_file(log) or ""
  os.remove(log)
  return ok, out
end

local function release_rockspecs(dir)
  local out = {}
  for name in util.sh("ls " .. q(dir .. "/rockspecs")):gmatch("[^\n]+") do
    if name ~= "aimlmusic-scm-1.rockspec" then out[#out + 1] = name end
  end
  return out
end

local function project_url(dir)
  return assert(read_file(dir .. "/Makefile"):match("\nPROJECT_URL = (%S+)\n"), "no PROJECT_URL in the Makefile")
end

-- The version every place names, checked one by one (not through tools/release.lua).
local function agreed_version(dir)
  local latest = assert(read_file(dir .. "/CHANGELOG.md"):match("\n## (%d+%.%d+%.%d+)\n"), "CHANGELOG: no version")
  local releases = release_rockspecs(dir)
  assert.same({ "aimlmusic-" .. latest .. "-1.rockspec" }, releases)
  local scm = rockspec(dir .. "/" .. SCM)
  local rel = rockspec(dir .. "/rockspecs/" .. releases[1])
  assert.equal(latest .. "-1", rel.version)
  assert.equal("v" .. latest, rel.source.tag)
  local url = "git+" .. project_url(dir) .. ".git"
  assert.equal(url, scm.source.url)
  assert.equal(url, rel.source.url)
  -- everything else is the scm rockspec's: summary, modules, dependencies, copy_directories ...
  for k, v in pairs(scm) do
    if k ~= "version" and k ~= "source" then assert.same(v, rel[k], k) end
  end
  for k in pairs(rel) do assert.is_not_nil(scm[k], k) end
  assert.equal("aimlmusic " .. latest, read_file(dir .. "/lua/aimlmusic.lua"):match('\n  _VERSION = "([^"]+)"'))
  local core_version = 'lua_pushliteral%(L, "([^"]*)"%);\n%s*lua_setfield%(L, %-2, "version"%)'
  assert.equal(latest, read_file(dir .. "/src/core.c"):match(core_version))
  return latest
end

describe("the release", function()
  local dir

  -- A copy of what make release reads and writes, with an Unreleased section to release.
  local function copy()
    local d = util.mkdir(dir .. "/copy" .. math.random(1e9))
    local ok, out = run(root, "cp --parents -t " .. q(d)
      .. " Makefile CHANGELOG.md lua/aimlmusic.lua src/core.c tools/release.lua rockspecs/*.rockspec")
    assert(ok, out)
    local changelog = read_file(d .. "/CHANGELOG.md")
    if not changelog:find("\n## Unreleased\n", 1, true) then
      write_file(d .. "/CHANGELOG.md", (changelog:gsub("\n## ", "\n## Unreleased\n\n- More.\n\n## ", 1)))
    end
    return d
  end

  setup(function()
    dir = util.tmpdir()
  end)

  teardown(function()
    util.rm_rf(dir)
  end)

  -- #posix: needs a POSIX shell: tools/release.lua, a maintainer's tool, lists files with ls
  it("agrees with itself in the checkout: rockspecs, CHANGELOG, _VERSION, the core #posix", function()
    local v = agreed_version(root)
    assert.equal(v, require("aimlmusic.core").version)
    assert.equal("aimlmusic " .. v, require("aimlmusic")._VERSION)
    local ok, out = run(root, util.LUA .. " tools/release.lua --url " .. q(project_url(root)) .. " --check")
    assert(ok, out)
  end)

  it("has one home: the Makefile's PROJECT_URL, which the README and the help name too", function()
    local url = project_url(root)
    local owner = assert(url:match("^https://github%.com/([^/]+)/aimlmusic$"), url)
    local placeholder = owner == "OWNER"
    local n = 0
    for _, path in ipairs({ "README.md", "doc/aimlmusic.txt" }) do
      local text = read_file(root .. "/" .. path)
      for who in text:gmatch('"([^"%s/]+)/aimlmusic"') do
        n = n + 1
        assert.equal(placeholder and "<owner>" or owner, who, path)
      end
      for who in text:gmatch("github%.com/([^/%s]+)/aimlmusic") do
        assert.equal(placeholder and "<owner>" or owner, who, path)
      end
    end
    assert.is_true(n >= 2, "the lazy.nvim lines name no repository")
  end)

  it("names every kind of model in the rockspec's summary, not two models", function()
    local summary = rockspec(root .. "/" .. SCM).description.summary
    for _, family in ipairs({ "MiniMax", "Lyria", "Stable Audio", "ElevenLabs" }) do
      assert.truthy(summary:find(family, 1, true), family)
    end
    assert.is_nil(summary:find("music%-2%.0"), summary)
  end)

  it("make release VERSION=x.y.z writes a release that agrees, and writing it again changes nothing", function()
    local d = copy()
    local before = release_rockspecs(d)[1]
    local ok, out = run(d, ENV .. " make --no-print-directory release VERSION=9.8.7")
    assert(ok, out)
    assert.equal("9.8.7", agreed_version(d))
    assert.is_nil(read_file(d .. "/rockspecs/" .. before), before .. " is still there")
    local changelog = read_file(d .. "/CHANGELOG.md")
    assert.is_nil(changelog:find("## Unreleased", 1, true))
    local files = {}
    for _, f in ipairs({ "CHANGELOG.md", "lua/aimlmusic.lua", "src/core.c", SCM, "rockspecs/aimlmusic-9.8.7-1.rockspec" }) do
      files[f] = read_file(d .. "/" .. f)
    end
    ok, out = run(d, ENV .. " make --no-print-directory release VERSION=9.8.7")
    assert(ok, out)
    for f, s in pairs(files) do assert.equal(s, read_file(d .. "/" .. f), f) end
    -- another project URL goes into both rockspecs
    ok, out = run(d, ENV .. " make --no-print-directory release VERSION=9.8.7"
      .. " PROJECT_URL=https://example.org/team/aimlmusic")
    assert(ok, out)
    assert.equal("git+https://example.org/team/aimlmusic.git", rockspec(d .. "/" .. SCM).source.url)
    assert.equal("git+https://example.org/team/aimlmusic.git",
      rockspec(d .. "/rockspecs/aimlmusic-9.8.7-1.rockspec").source.url)
  end)

  it("make release refuses a version that is not x.y.z, and a CHANGELOG without notes for it", function()
    local d = copy()
    local ok, out = run(d, ENV .. " make --no-print-directory release")
    assert.is_false(ok)
    assert.matches("usage: make release VERSION=x%.y%.z", out)
    ok, out = run(d, ENV .. " make --no-print-directory release VERSION=1.2")
    assert.is_false(ok)
    assert.matches("three numbers", out)
    local changelog = read_file(d .. "/CHANGELOG.md"):gsub("\n## Unreleased\n", "\n", 1)
    write_file(d .. "/CHANGELOG.md", changelog)
    local rockspecs = release_rockspecs(d)
    ok, out = run(d, ENV .. " make --no-print-directory release VERSION=9.9.9")
    assert.is_false(ok)
    assert.matches("write what changed first", out)
    assert.same(rockspecs, release_rockspecs(d))
    assert.equal(read_file(root .. "/lua/aimlmusic.lua"), read_file(d .. "/lua/aimlmusic.lua"))
  end)

  -- #posix: needs a POSIX shell: tools/release.lua, a maintainer's tool, lists files with ls
  it("the check fails when the rockspecs, _VERSION or the CHANGELOG drift apart #posix", function()
    local check = util.LUA .. " tools/release.lua --url " .. q(project_url(root)) .. " --check"
    local d = copy()
    assert(run(d, check))
    local scm = read_file(d .. "/" .. SCM)
    write_file(d .. "/" .. SCM, (scm:gsub('summary = "[^"]*"', 'summary = "Generate music (minimax/music-2.0, music-1.5)"')))
    local ok, out = run(d, check)
    assert.is_false(ok)
    assert.matches("is not the scm rockspec", out)
    write_file(d .. "/" .. SCM, scm)

    local lib = read_file(d .. "/lua/aimlmusic.lua")
    write_file(d .. "/lua/aimlmusic.lua", (lib:gsub('_VERSION = "aimlmusic [^"]*"', '_VERSION = "aimlmusic 0.0.1"')))
    ok, out = run(d, check)
    assert.is_false(ok)
    assert.matches("_VERSION is aimlmusic 0%.0%.1", out)
    write_file(d .. "/lua/aimlmusic.lua", lib)

    local changelog = read_file(d .. "/CHANGELOG.md")
    write_file(d .. "/CHANGELOG.md", (changelog:gsub("\n## Unreleased\n", "\n## 7.7.7\n", 1)))
    ok, out = run(d, check)
    assert.is_false(ok)
    assert.matches("rockspecs/: the release rockspecs are", out)
    write_file(d .. "/CHANGELOG.md", changelog)
    assert(run(d, check))
  end)
end)
