-- One release, written from one place: `make release VERSION=x.y.z`.
--
--   lua tools/release.lua [--root DIR] --url URL VERSION    write the release, then check it
--   lua tools/release.lua [--root DIR] --url URL --check    check the tree as it is
--
-- Writing: rockspecs/aimlmusic-VERSION-1.rockspec from the scm rockspec (the same text, with
-- the version and the git tag vVERSION: summary, files, dependencies, copy_directories and
-- everything else come from the scm one; other release rockspecs are removed), both rockspecs'
-- source.url from URL (the Makefile's PROJECT_URL), the CHANGELOG's "## Unreleased" heading
-- renamed "## VERSION", `_VERSION` in lua/aimlmusic.lua and the core's version in src/core.c.
-- Checking: all of these agree. Nothing is tagged, committed or published: those are the
-- maintainer's steps (doc/development.md, "Releasing").

local root, url, version, check_only = ".", nil, nil, false
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "--root" then root, i = arg[i + 1], i + 1
    elseif a == "--url" then url, i = arg[i + 1], i + 1
    elseif a == "--check" then check_only = true
    elseif not version and not a:match("^%-") then version = a
    else io.stderr:write("release: unknown argument ", a, "\n") os.exit(2) end
    i = i + 1
  end
end

local function fail(msg)
  io.stderr:write("release: ", msg, "\n")
  os.exit(1)
end

local function read(path)
  local f = io.open(root .. "/" .. path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function write(path, text)
  local f = assert(io.open(root .. "/" .. path, "wb"))
  assert(f:write(text))
  assert(f:close())
end

local function escape(s) return (s:gsub("%p", "%%%0")) end

-- The file names in rockspecs/ (ls, sorted).
local function rockspec_files()
  local names = {}
  local p = assert(io.popen("ls " .. ("%q"):format(root .. "/rockspecs")))
  for name in p:lines() do
    if name:match("%.rockspec$") then names[#names + 1] = name end
  end
  p:close()
  return names
end

local SCM = "rockspecs/aimlmusic-scm-1.rockspec"
local SOURCE_URL = '\n  url = "([^"\n]*)",\n'

-- The release rockspec of version v: the scm one with its version and a tag.
local function release_rockspec(scm, v)
  local text, n = scm:gsub('\nversion = "scm%-1"\n', '\nversion = "' .. v .. '-1"\n', 1)
  if n ~= 1 then fail(SCM .. ': no line version = "scm-1"') end
  local m
  text, m = text:gsub("(\nsource = {" .. SOURCE_URL .. ")", "%1  tag = \"v" .. v .. "\",\n", 1)
  if m ~= 1 then fail(SCM .. ": its source block must begin with its url line") end
  return text
end

local function with_url(text, path)
  local git_url = "git+" .. url .. ".git"
  local out, n = text:gsub("(\nsource = {\n  url = \")[^\"\n]*(\",\n)", "%1" .. git_url:gsub("%%", "%%%%") .. "%2", 1)
  if n ~= 1 then fail(path .. ": no source url line") end
  return out
end

local CORE_VERSION = '(lua_pushliteral%(L, ")([^"]*)("%);\n%s*lua_setfield%(L, %-2, "version"%);)'

-- Every place that names the version agrees with v (or, without v, with the CHANGELOG's
-- latest); returns the list of disagreements.
local function check(v)
  local problems = {}
  local function say(fmt, ...) problems[#problems + 1] = fmt:format(...) end
  local changelog = read("CHANGELOG.md") or ""
  -- The first version heading (an "## Unreleased" above it is work after that release).
  local latest = changelog:match("\n## (%d+%.%d+%.%d+)\n")
  v = v or latest
  if not v then
    say("CHANGELOG.md: no version heading (## x.y.z) above the others")
    return problems
  end
  if latest ~= v then say("CHANGELOG.md: the latest heading is %s, not ## %s", tostring(latest), v) end
  local lua_version = (read("lua/aimlmusic.lua") or ""):match('\n  _VERSION = "aimlmusic ([^"]*)"')
  if lua_version ~= v then say("lua/aimlmusic.lua: _VERSION is aimlmusic %s, not %s", tostring(lua_version), v) end
  local _, core_version = (read("src/core.c") or ""):match(CORE_VERSION)
  if core_version ~= v then say("src/core.c: the core's version is %s, not %s", tostring(core_version), v) end
  local scm = read(SCM)
  if not scm then
    say("%s is missing", SCM)
    return problems
  end
  local releases = {}
  for _, name in ipairs(rockspec_files()) do
    if name ~= "aimlmusic-scm-1.rockspec" then releases[#releases + 1] = name end
  end
  local want = "aimlmusic-" .. v .. "-1.rockspec"
  if #releases ~= 1 or releases[1] ~= want then
    say("rockspecs/: the release rockspecs are {%s}, not {%s}", table.concat(releases, ", "), want)
  end
  local rel = read("rockspecs/" .. want)
  if rel and rel ~= release_rockspec(scm, v) then
    say("rockspecs/%s is not the scm rockspec with version %s-1 and tag v%s: `make release VERSION=%s` "
      .. "writes it again", want, v, v, v)
  end
  if url then
    local git_url = "git+" .. url .. ".git"
    for path, text in pairs({ [SCM] = scm, ["rockspecs/" .. want] = rel or "" }) do
      local have = text:match("\nsource = {" .. SOURCE_URL)
      if have ~= git_url then say("%s: source.url is %s, not %s (PROJECT_URL)", path, tostring(have), git_url) end
    end
  end
  return problems
end

if not url then fail("--url PROJECT_URL is needed (the Makefile passes its PROJECT_URL)") end
if not url:match("^https://[%w%.%-]+/[%w%._%-/]+$") or url:match("%.git$") then
  fail("PROJECT_URL must be the project's https address without .git, got " .. url)
end

if check_only then
  local problems = check(version)
  if #problems > 0 then fail("the release does not agree with itself:\n  " .. table.concat(problems, "\n  ")) end
  print("release " .. (version or "(the CHANGELOG's latest)") .. ": rockspecs, CHANGELOG, _VERSION and core agree")
  os.exit(0)
end

if not (version and version:match("^%d+%.%d+%.%d+$")) then
  fail("usage: make release VERSION=x.y.z (three numbers), got " .. tostring(version))
end

-- The CHANGELOG first: without notes for the version there is no release.
local changelog = read("CHANGELOG.md") or fail("no CHANGELOG.md")
if not changelog:find("\n## " .. escape(version) .. "\n") then
  local renamed, n = changelog:gsub("\n## Unreleased[^\n]*\n", "\n## " .. version .. "\n", 1)
  if n ~= 1 then
    fail("CHANGELOG.md has neither ## " .. version .. " nor ## Unreleased: write what changed first")
  end
  write("CHANGELOG.md", renamed)
end

local lua_src = read("lua/aimlmusic.lua")
local new_lua, n = lua_src:gsub('(\n  _VERSION = "aimlmusic )[^"]*(")', "%1" .. version .. "%2", 1)
if n ~= 1 then fail('lua/aimlmusic.lua: no line _VERSION = "aimlmusic x.y.z"') end
write("lua/aimlmusic.lua", new_lua)

local core_src = read("src/core.c")
local new_core, m = core_src:gsub(CORE_VERSION, "%1" .. version .. "%3", 1)
if m ~= 1 then fail("src/core.c: no version literal before lua_setfield(L, -2, \"version\")") end
write("src/core.c", new_core)

local scm = with_url(read(SCM) or fail("no " .. SCM), SCM)
write(SCM, scm)
local name = "aimlmusic-" .. version .. "-1.rockspec"
for _, old in ipairs(rockspec_files()) do
  if old ~= name and old ~= "aimlmusic-scm-1.rockspec" then assert(os.remove(root .. "/rockspecs/" .. old)) end
end
write("rockspecs/" .. name, release_rockspec(scm, version))

local problems = check(version)
if #problems > 0 then fail("written, but does not agree:\n  " .. table.concat(problems, "\n  ")) end
print("release " .. version .. ": wrote rockspecs/" .. name .. ", CHANGELOG.md, lua/aimlmusic.lua, src/core.c")
if url:find("/OWNER/", 1, true) then
  print("release: PROJECT_URL is still the placeholder " .. url .. ": give the project's address before publishing")
end
