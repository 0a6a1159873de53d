-- Building and installing as users do: make without Debian's tools or pkg-config, make lint
-- without a compiler, the rockspecs against the tree, the exported symbols of every build, the
-- release .src.rock installed offline into a fresh home, doc/install.md's plain luarocks make
-- as pasted, make clean after luarocks make.
-- Commands run as processes, outside the calling make (its variables unset).

local util = require "support.util"

local q, read_file, execute, sh = util.q, util.read_file, util.execute, util.sh
local LUA = util.LUA
local ROCK_LUA = LUA == "luajit" and "5.1" or LUA:match("^lua(%d%.%d)$")
local ENV = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH"
-- Every download LuaRocks might try goes to a closed port: offline for sure.
local OFFLINE = "http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 ftp_proxy=http://127.0.0.1:9"

-- Runs cmd (a shell line) in dir, without the sanitizer preload of make asan; returns ok and
-- everything it wrote.
local function run(dir, cmd)
  local log = os.tmpname()
  local ok = execute("cd " .. q(dir) .. " && unset LD_PRELOAD && (" .. cmd .. "\n) >" .. q(log) .. " 2>&1")
  local out = read_file(log) or ""
  os.remove(log)
  return ok, out
end

local run_each = util.run_each

-- A directory of symlinks to every program on PATH except those whose name matches the
-- extended regular expression hide: a PATH without them. One pass over PATH, one awk and one
-- ln for all (a process per program took seconds per directory with a long PATH); the first
-- program of a name wins, as in a PATH search.
local function path_without(dir, hide)
  util.mkdir(dir)
  local ok, out = run(dir, "HIDE=" .. q(hide) .. [[ && export HIDE && IFS=: && for d in $PATH; do
    [ -d "$d" ] || continue
    for f in "$d"/*; do [ -x "$f" ] && [ ! -d "$f" ] && printf '%s\n' "$f"; done
  done | awk -F/ '!seen[$NF]++ && $NF !~ ENVIRON["HIDE"]' | tr '\n' '\0' | xargs -0 -r ln -s -t .]])
  assert(ok, out)
  return dir
end

-- The symbols a shared object defines in its dynamic table.
local function exports(so)
  local out = {}
  for line in sh("nm -D --defined-only " .. q(so)):gmatch("[^\n]+") do
    local kind, name = line:match("^%x*%s+(%a)%s+(%S+)$")
    if kind and kind:match("[TDBRtdbrVWiu]") then out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

-- A rockspec read as the Lua it is.
local function rockspec(path)
  local env = {}
  local s = assert(read_file(path), path)
  local fn = assert((loadstring or load)(s, "@" .. path)) -- luacheck: ignore 113 (Lua 5.1)
  if setfenv then setfenv(fn, env) else fn = assert(load(s, "@" .. path, "t", env)) end -- luacheck: ignore 113
  fn()
  return env
end

local function lines(cmd)
  local out = {}
  for l in sh(cmd):gmatch("[^\n]+") do out[#out + 1] = l end
  table.sort(out)
  return out
end

-- #posix: needs make, a C compiler and LuaRocks on the host
describe("building and installing #posix", function()
  local root, dir

  setup(function()
    root = util.repo_root()
    dir = util.tmpdir(true)
  end)

  teardown(function()
    util.rm_rf(dir)
  end)

  local RELEASE = "rockspecs/aimlmusic-0.2.0-1.rockspec"
  local SCM = "rockspecs/aimlmusic-scm-1.rockspec"

  it("both rockspecs list every C source and every Lua module of the tree", function()
    local c_sources = lines("cd " .. q(root) .. " && ls src/*.c")
    local lua_files = lines("cd " .. q(root) .. " && find lua -name '*.lua'")
    assert.is_true(#c_sources >= 10)
    for _, path in ipairs({ RELEASE, SCM }) do
      local r = rockspec(root .. "/" .. path)
      local modules = r.build.modules
      local listed = {}
      for _, s in ipairs(modules["aimlmusic.core"].sources) do listed[#listed + 1] = s end
      table.sort(listed)
      assert.same(c_sources, listed, path .. ": build.modules[\"aimlmusic.core\"].sources is not src/*.c")
      local lua_listed = {}
      for name, m in pairs(modules) do
        if type(m) == "string" then
          lua_listed[#lua_listed + 1] = m
          local want = name:gsub("%.", "/")
          assert.is_true(m == "lua/" .. want .. ".lua" or m == "lua/" .. want .. "/init.lua",
            path .. ": " .. name .. " -> " .. m)
        end
      end
      table.sort(lua_listed)
      assert.same(lua_files, lua_listed, path .. ": the Lua modules")
    end
  end)

  it("every header hides what it declares, so any build exports luaopen_aimlmusic_core alone", function()
    -- hidden.h holds the pragmas; every other header puts its declarations between its two macros
    local rule = assert(read_file(root .. "/src/hidden.h"))
    assert.truthy(rule:find('_Pragma("GCC visibility push(hidden)")', 1, true), "hidden.h lacks the visibility push")
    assert.truthy(rule:find('_Pragma("GCC visibility pop")', 1, true), "hidden.h lacks the visibility pop")
    for _, h in ipairs(lines("cd " .. q(root) .. " && ls src/*.h")) do
      local s = read_file(root .. "/" .. h)
      if h ~= "src/hidden.h" then
        assert.truthy(s:find('#include "hidden.h"', 1, true), h .. " does not include hidden.h")
        assert.truthy(s:find("\nHIDDEN_BEGIN\n", 1, true), h .. " lacks HIDDEN_BEGIN")
        assert.truthy(s:find("\nHIDDEN_END\n", 1, true), h .. " lacks HIDDEN_END")
      end
    end
    -- make's build (the LuaRocks builds, without -fvisibility=hidden, are checked below)
    local ok, out = run(root, ENV .. " make --no-print-directory build LUA=" .. LUA)
    assert(ok, out)
    assert.same({ "luaopen_aimlmusic_core" }, exports(root .. "/build/" .. LUA .. "/aimlmusic/core.so"))
  end)

  it("luarocks lint passes on both rockspecs; the release has a tagged git source", function()
    for _, path in ipairs({ RELEASE, SCM }) do
      local ok, out = run(root, "luarocks lint " .. path)
      assert(ok, path .. ":\n" .. out)
    end
    local r = rockspec(root .. "/" .. RELEASE)
    assert.equal("0.2.0-1", r.version)
    assert.matches("^git%+https://", r.source.url)
    assert.equal("v0.2.0", r.source.tag)
    assert.equal("MIT", r.description.license)
  end)

  it("the CHANGELOG's latest version is the release rockspec's and the library's; LICENSE is MIT", function()
    local changelog = assert(read_file(root .. "/CHANGELOG.md"))
    local latest = changelog:match("\n## (%d+%.%d+%.%d+)")
    local release
    for _, f in ipairs(lines("cd " .. q(root) .. " && ls rockspecs/*.rockspec")) do
      local v = f:match("aimlmusic%-(%d+%.%d+%.%d+)%-%d+%.rockspec$")
      if v then release = v end -- sorted: the last is the newest
    end
    assert.equal(release, latest)
    assert.equal("aimlmusic " .. latest, (read_file(root .. "/lua/aimlmusic.lua"):match('_VERSION = "([^"]+)"')))
    assert.truthy(read_file(root .. "/src/core.c"):find('lua_pushliteral(L, "' .. latest .. '")', 1, true))
    local license = assert(read_file(root .. "/LICENSE"))
    assert.matches("^MIT License", license)
    assert.matches("Copyright %(c%) %d+ the aimlmusic authors", license)
  end)

  it("make build passes with dpkg and apt absent from PATH, and without pkg-config given LUA_INCDIR", function()
    local bin = path_without(dir .. "/no-apt", "^(dpkg|apt)")
    local out_dir = dir .. "/build-no-apt"
    local bin2 = path_without(dir .. "/no-pkg-config", "^(dpkg|apt)|pkg-config$|^pkgconf")
    local incdir = LUA == "luajit" and "/usr/include/luajit-2.1" or "/usr/include/" .. LUA
    local out_dir2 = dir .. "/build-incdir"
    -- CFLAGS=-O0: a quicker compile, the same checks; the two builds side by side
    local r = run_each(root, {
      ENV .. " PATH=" .. q(bin) .. " make --no-print-directory build CFLAGS=-O0 LUA=" .. LUA .. " BUILD=" .. q(out_dir),
      ENV .. " PATH=" .. q(bin2) .. " make --no-print-directory build CFLAGS=-O0 LUA=" .. LUA
        .. " LUA_INCDIR=" .. incdir .. " BUILD=" .. q(out_dir2),
    })
    assert(r[1].ok, r[1].out)
    assert.is_nil(r[1].out:find("apt-get", 1, true), r[1].out)
    assert.same({ "luaopen_aimlmusic_core" }, exports(out_dir .. "/aimlmusic/core.so"))

    assert(r[2].ok, r[2].out)
    assert.matches("%-I" .. incdir:gsub("%p", "%%%0"), r[2].out)
    assert.same({ "luaopen_aimlmusic_core" }, exports(out_dir2 .. "/aimlmusic/core.so"))
  end)

  it("a missing header, library or compiler is named", function()
    local bin = path_without(dir .. "/no-apt2", "^(dpkg|apt)")
    local base = ENV .. " PATH=" .. q(bin) .. " make --no-print-directory build LUA=" .. LUA .. " BUILD=" .. q(dir .. "/b")
    local ok, out = run(root, base .. " LUA_INCDIR=/nonexistent/include")
    assert.is_false(ok)
    assert.matches("header lua%.h", out)
    assert.matches("LUA_INCDIR", out)
    ok, out = run(root, base .. " CURL_LIBS='-L/nonexistent -lcurl-missing'")
    assert.is_false(ok)
    assert.matches("library libcurl not found", out)
    ok, out = run(root, base .. " CC=/nonexistent/cc")
    assert.is_false(ok)
    assert.matches("no C compiler", out)
  end)

  it("make lint needs no compiler", function()
    local bin = path_without(dir .. "/no-cc", "^(cc|c89.*|c99.*|tcc|cpp.*)$|gcc|clang")
    assert.is_false(execute("PATH=" .. q(bin) .. " command -v cc >/dev/null 2>&1"))
    local ok, out = run(root, ENV .. " PATH=" .. q(bin) .. " make --no-print-directory lint")
    assert(ok, out)
  end)

  it("make rock works on a fresh account, make clean tidies after it; the packed .src.rock installs offline",
    function()
      -- -O0: quicker compiles; what is checked (installing, loading, exports) is the same
      local fast = " CFLAGS='-O0 -fPIC'"
      -- in a copy of the tree (luarocks make builds in the tree), into a home without ~/.luarocks
      local copy = util.mkdir(dir .. "/copy")
      local ok, out = run(root, "git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t " .. q(copy))
      assert(ok, out)
      local before = lines("cd " .. q(copy) .. " && find . | sort")
      local home = util.mkdir(dir .. "/home")
      -- and the release's .src.rock, packed from the checkout, installed offline into another
      -- fresh home: the two share nothing, so they run side by side
      local rock = root .. "/build/rock/aimlmusic-0.2.0-1.src.rock"
      local home2 = util.mkdir(dir .. "/home2")
      local tree = home2 .. "/tree"
      local luarocks = ENV .. " HOME=" .. q(home2) .. " " .. OFFLINE .. " LUAROCKS_CONFIG="
        .. q(root .. "/build/rock/config-" .. ROCK_LUA .. ".lua") .. " luarocks --lua-version=" .. ROCK_LUA
      -- the README's lines for a plain script, as pasted (make's ROCK_VARS from the environment)
      local readme = assert(read_file(root .. "/README.md"))
      local block = assert(readme:match("### A plain script.-```sh\n(.-)```"), "README: no sh block for a plain script")
      assert.matches("^make rock", block)
      -- the Lua the README's lines install for, whatever runtime this suite runs on
      local readme_lua = assert(block:match("luarocks %-%-lua%-version=(%d%.%d)"), block)
      util.write_file(copy .. "/readme.sh", "set -e\n" .. block)
      local r = run_each(dir, {
        "cd " .. q(copy) .. " && env -u LUA " .. ENV:gsub("^env ", "") .. " HOME=" .. q(home) .. " " .. OFFLINE
          .. " ROCK_VARS=" .. q(fast) .. " sh readme.sh && rm readme.sh",
        "cd " .. q(root) .. " && " .. ENV .. " " .. OFFLINE .. " make --no-print-directory rock-pack LUA=" .. LUA
          .. " && test -f " .. q(rock) .. " && cd " .. q(dir) .. " && "
          .. luarocks .. " install --tree=" .. q(tree) .. " " .. q(rock) .. fast,
      })
      ok, out = r[1].ok, r[1].out
      assert(ok, out)
      assert.matches("aimlmusic 0%.2%.0\tloaded outside the checkout", out)
      assert.same({ "luaopen_aimlmusic_core" },
        exports(home .. "/.luarocks/lib/lua/" .. readme_lua .. "/aimlmusic/core.so"))
      assert.is_true(#lines("cd " .. q(copy) .. " && find . | sort") > #before, "luarocks make left nothing?")
      ok, out = run(copy, ENV .. " make --no-print-directory clean")
      assert(ok, out)
      assert.same(before, lines("cd " .. q(copy) .. " && find . | sort"))

      assert(r[2].ok, r[2].out)
      assert.truthy(read_file(rock), "no " .. rock)
      assert.same({ "luaopen_aimlmusic_core" }, exports(tree .. "/lib/lua/" .. ROCK_LUA .. "/aimlmusic/core.so"))
      local probe = 'local m = require "aimlmusic"; local c = require "aimlmusic.core"; '
        .. 'print(m._VERSION, c.version, package.searchpath and package.searchpath("aimlmusic.core", package.cpath) or "")'
      ok, out = run(dir, 'eval "$(' .. luarocks .. " path --tree=" .. q(tree) .. ')" && ' .. LUA .. " -e " .. q(probe)
        .. " && " .. q(tree .. "/bin/aimlmusic") .. " --help")
      assert(ok, out)
      assert.matches("aimlmusic 0%.2%.0\t0%.2%.0", out)
      if LUA ~= "lua5.1" then assert.truthy(out:find(tree, 1, true), out) end
      assert.matches("usage: aimlmusic", out)
    end)

  it("doc/install.md's plain luarocks make, as pasted, installs into a fresh home with no network", function()
    local block = assert(read_file(root .. "/doc/install.md"):match("```sh\n(luarocks [^\n]* make .-)```"),
      "doc/install.md: no sh block with luarocks make")
    local copy = util.mkdir(dir .. "/plain-copy")
    local ok, out = run(root, "git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t " .. q(copy))
    assert(ok, out)
    local home = util.mkdir(dir .. "/plain-home")
    -- then, away from the checkout's own build (./aimlmusic/core.so), where the core comes from
    local probe = [[cd "$HOME" && lua5.4 -e 'print(package.searchpath("aimlmusic.core", package.cpath))']]
    util.write_file(copy .. "/install.sh", "set -e\n" .. block .. "\n" .. probe .. "\n")
    ok, out = run(copy, ENV .. " HOME=" .. q(home) .. " " .. OFFLINE .. " sh install.sh")
    assert(ok, out)
    assert.truthy(out:find(home .. "/.luarocks/lib/lua/5.4/aimlmusic/core.so", 1, true), out)
  end)

  it("luarocks test runs the specs", function()
    local ok, out = run(root, ENV .. " luarocks --lua-version=" .. ROCK_LUA
      .. " test rockspecs/aimlmusic-scm-1.rockspec -- LUA=" .. LUA .. " BUSTED_ARGS=spec/encode_spec.lua")
    assert(ok, out)
    assert.matches("%d+ success", out)
    assert.matches("0 failures", out)
  end)

  it("the mock command says how to get luv when it is missing", function()
    -- the core only (the mock's JSON is the core's), no luv
    local ok, out = run(root, ENV .. " make --no-print-directory build LUA=" .. LUA)
    assert(ok, out)
    for _, cmd in ipairs({ "bin/aimlmusic-mock --port 0", "bin/aimlmusic mock --port 0" }) do
      ok, out = run(root, ENV .. " LUA_CPATH=" .. q(root .. "/build/" .. LUA .. "/?.so")
        .. " LUA_PATH=" .. q(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua")
        .. " " .. LUA .. " " .. cmd .. " </dev/null")
      assert.is_false(ok, out)
      assert.matches("luarocks install luv", out)
    end
  end)
end)
