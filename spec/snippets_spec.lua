-- Every Lua block of README.md and doc/*.md runs as a user would paste it, against the mock
-- server: a whole script as it is; a block the text says goes on from another ("with `music`
-- and `client` as above") after that one, or after the few lines CONTEXT says (the client and
-- parameters a user has by then); Neovim's glue in headless Neovim; LÖVE's main.lua in headless
-- LÖVE with the bundle; an excerpt of an example whose file loops_spec runs, found line for
-- line in that file. A block no case here knows fails the spec, so a new one cannot go
-- untested. (The lazy.nvim spec and the events hook are nvim_spec's and events_spec's.)

local fixture = require "support.fixture"
local util = require "support.util"

local q, read_file, write_file = util.q, util.read_file, util.write_file

local root = util.repo_root()

-- The ```lua blocks of a page: {line, heading, code}.
local function blocks(page)
  local text = assert(read_file(root .. "/" .. page))
  local out, heading, n, inside, start, code = {}, "", 0, false, 0, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if inside then
      if line:match("^```") then
        out[#out + 1] = { page = page, line = start, heading = heading, code = table.concat(code, "\n") .. "\n" }
        inside = false
      else
        code[#code + 1] = line
      end
    elseif line:match("^```lua%s*$") then
      inside, start, code = true, n, {}
    elseif line:match("^#+ ") then
      heading = line:gsub("^#+ ", "")
    end
  end
  return out
end

-- What a user has made by the time a block that goes on from the text uses it.
local CONTEXT = [[
local music = require "aimlmusic"
local client = assert(music.new())
local params = { model = "minimax/music-2.0", prompt = "A calm piano piece for a rainy evening",
  lyrics = "[Verse]\nRain on the window\n[Chorus]\nStay a while" }
]]

-- The cases, each a block's first line (a plain-text match) and how it runs.
local CASES = {
  { page = "README.md", first = 'local music = require "aimlmusic"', heading = "Use from Lua", run = "script" },
  { page = "README.md", first = "local lyrics =", heading = "Use from Lua", run = "after_first" },
  { page = "README.md", first = 'local music = require "aimlmusic"', heading = "Neovim", run = "nvim" },
  { page = "doc/hosts.md", first = 'local music = require "aimlmusic"', heading = "Neovim", run = "nvim" },
  { page = "README.md", first = 'local music = require "aimlmusic"', heading = "LÖVE", run = "love" },
  { page = "README.md", first = '{ "<owner>/aimlmusic"', run = "elsewhere" }, -- nvim_spec
  { page = "doc/api.md", first = 'local music = require "aimlmusic"', run = "elsewhere" }, -- events_spec
  { page = "doc/hosts.md", first = 'local cqueues = require "cqueues"', run = "context" },
  { page = "doc/hosts.md", first = "local fd = assert(music.pollfd())\nlocal watched", run = "excerpt",
    file = "examples/loops/poll.lua" },
  { page = "doc/hosts.md", first = "local fd = assert(music.pollfd())\nlocal library", run = "excerpt",
    file = "examples/loops/copas.lua" },
  { page = "doc/hosts.md", first = "local fd = assert(music.pollfd())\nGLib", run = "excerpt",
    file = "examples/loops/glib.lua" },
  { page = "doc/models.md", first = 'client:generate({ model = "minimax/music-2.0"', run = "context" },
  { page = "doc/models.md", first = '["acme/chime"] = {', run = "model" },
}

local function case_of(b)
  for _, c in ipairs(CASES) do
    if c.page == b.page and b.code:sub(1, #c.first) == c.first and (not c.heading or b.heading:find(c.heading, 1, true)) then
      return c
    end
  end
end

-- A short valid WAV (the cover's local file).
local WAV = "RIFF\36\16\0\0WAVEfmt \16\0\0\0\1\0\1\0\68\172\0\0\136\88\1\0\2\0\16\0data\0\16\0\0" .. ("\0"):rep(4096)

describe("the docs' Lua blocks", function()
  local env = fixture.mock_client { duration = 0.3, client = false }
  local n = 0

  -- A fresh directory for one block's run.
  local function case_dir()
    n = n + 1
    return util.mkdir(env.dir .. "/snippet" .. n)
  end

  -- The environment a user's shell gives the block: the key and the mock's URL.
  local function vars()
    return "AIMLAPI_KEY=" .. q(env.mock.key) .. " AIMLAPI_BASE_URL=" .. q(env.mock.api_url)
      .. " AIMLMUSIC_POLL_INTERVAL=0.05"
  end

  -- Runs Lua source as a script in dir with the checkout's modules and build on the paths;
  -- returns ok, output.
  local function run_lua(dir, source)
    write_file(dir .. "/snippet.lua", source)
    local lpath = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;"
    local cpath = root .. "/" .. (package.cpath:match("%./(build/[^/;]+)/%?%.so") or "build/lua5.4") .. "/?.so;;"
    local out = util.sh(("cd %s && env LUA_PATH=%s LUA_CPATH=%s %s %s snippet.lua 2>&1; echo \"rc=$?\""):format(
      q(dir), q(lpath), q(cpath), vars(), util.LUA))
    return out:match("rc=0\n$") ~= nil, out
  end

  local function first_block(page, heading)
    for _, b in ipairs(blocks(page)) do
      if b.heading:find(heading, 1, true) then return b end
    end
  end

  local runners = {}

  function runners.script(b)
    local dir = case_dir()
    local ok, out = run_lua(dir, b.code)
    assert(ok, out)
    -- what it prints ends on a line of its own: path, bytes, duration
    assert.matches("\ntrack%.mp3\t%d+\t%d+\n", out)
    assert.truthy(read_file(dir .. "/track.mp3"))
  end

  function runners.after_first(b)
    local dir = case_dir()
    local ok, out = run_lua(dir, first_block(b.page, b.heading).code .. b.code)
    assert(ok, out)
    local tracks = 0
    for _, name in ipairs(util.ls(dir)) do
      if name:match("%.mp3$") then tracks = tracks + 1 end
    end
    assert.equal(3, tracks, out)
  end

  function runners.context(b)
    local dir = case_dir()
    write_file(dir .. "/demo.wav", WAV)
    local ok, out = run_lua(dir, CONTEXT .. b.code)
    assert(ok, out)
  end

  function runners.nvim(b)
    local dir = case_dir()
    util.execute("cd " .. q(root) .. " && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u LD_PRELOAD"
      .. " make --no-print-directory nvim >/dev/null 2>&1")
    write_file(dir .. "/glue.lua", b.code)
    -- Neovim with the checkout on its runtimepath, as a plugin manager puts it; the messages
    -- recorded, the glue run as a user's Lua file, then a wait for its last message.
    write_file(dir .. "/harness.lua", [[
      vim.opt.runtimepath:prepend(os.getenv("AIMLMUSIC_ROOT"))
      local seen = {}
      vim.notify = function(msg) seen[#seen + 1] = msg end
      vim.cmd("luafile glue.lua")
      local done = vim.wait(20000, function()
        local last = seen[#seen]
        return last ~= nil and (last:find("^saved ") ~= nil or last:find("^aimlmusic: ") ~= nil)
      end, 20)
      local f = assert(io.open("result.txt", "w"))
      f:write(tostring(done), "\n", table.concat(seen, "\n"), "\n")
      f:close()
      vim.cmd("qa!")
    ]])
    local out = util.sh(("cd %s && env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH XDG_RUNTIME_DIR=%s XDG_STATE_HOME=%s"
      .. " XDG_DATA_HOME=%s AIMLMUSIC_ROOT=%s %s timeout -k 5 40 nvim --headless --clean -c 'luafile harness.lua'"
      .. " 2>&1"):format(q(dir), q(dir), q(dir .. "/state"), q(dir .. "/data"), q(root), vars()))
    local result = read_file(dir .. "/result.txt")
    assert(result, "Neovim wrote no result:\n" .. out)
    assert.matches("^true\n", result)
    assert.matches("\ncompleted\nsaved beat%.mp3\n$", result)
    assert.truthy(read_file(dir .. "/beat.mp3"))
  end

  function runners.love(b)
    local dir = case_dir()
    util.build_luajit(root, "LÖVE")
    -- A bundle of its own: love_spec makes build/love/ at the same time.
    local bundle = "build/love-snippets-" .. n
    assert(util.execute("cd " .. q(root) .. " && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u LD_PRELOAD"
      .. " make --no-print-directory love-bundle LOVE_DIR=" .. bundle .. " >/dev/null 2>&1"))
    finally(function() util.rm_rf(root .. "/" .. bundle) end)
    local game = util.mkdir(dir .. "/game")
    assert(util.execute("env -u LD_PRELOAD cp -R " .. q(root .. "/" .. bundle) .. "/. " .. q(game)))
    -- The README's main.lua as the game's, required by a harness main that runs it headless
    -- and counts the sounds it makes, then quits a second after the first (or after 20 s).
    write_file(game .. "/readme_main.lua", b.code)
    write_file(game .. "/conf.lua", [[
      function love.conf(t)
        t.identity = "snippet-game"
        t.window = nil
        t.modules.window, t.modules.graphics = false, false
      end
    ]])
    write_file(game .. "/main.lua", [[
      require "readme_main"
      local newSource, sources = love.audio.newSource, 0
      love.audio.newSource = function(...)
        sources = sources + 1
        return newSource(...)
      end
      local update, started, first = love.update, love.timer.getTime(), nil
      function love.update(dt)
        update(dt)
        local now = love.timer.getTime()
        if sources > 0 and not first then first = now end
        if (first and now - first > 1) or now - started > 20 then
          local f = assert(io.open(os.getenv("SNIPPET_RESULT"), "w"))
          f:write(sources, "\n")
          f:close()
          love.event.quit()
        end
      end
    ]])
    assert(util.execute("cd " .. q(game) .. " && env -u LD_PRELOAD zip -qr ../game.love ."))
    local result = dir .. "/result.txt"
    util.mkdir(dir .. "/data")
    local out = util.sh(("cd %s && env -u LD_PRELOAD -u DISPLAY -u WAYLAND_DISPLAY -u LUA_PATH -u LUA_CPATH"
      .. " XDG_RUNTIME_DIR=%s XDG_DATA_HOME=%s SDL_AUDIODRIVER=dummy ALSOFT_DRIVERS=null SNIPPET_RESULT=%s %s"
      .. " timeout -k 5 40 love game.love </dev/null 2>&1"):format(q(dir), q(dir), q(dir .. "/data"), q(result),
      vars()))
    -- One sound, made once, however many frames passed after the track came.
    assert.equal("1\n", read_file(result), out)
    local saved = util.ls(dir .. "/data/love/snippet-game/tracks")
    assert.equal(1, #saved, out)
    assert.matches("^%d+%.mp3$", saved[1])
    assert.truthy(read_file(dir .. "/data/love/snippet-game/jobs.journal"), "the journal is not in the save directory")
  end

  function runners.excerpt(b, c)
    local file = assert(read_file(root .. "/" .. c.file), c.file)
    assert.truthy(file:find(b.code, 1, true), c.file .. " does not hold the block as it is:\n" .. b.code)
  end

  function runners.model(b)
    local validate = require "aimlmusic.validate"
    local models = util.load_chunk("return {" .. b.code .. "}", "=" .. b.page)
    local body = assert(validate.encode({ model = "acme/chime", prompt = "ding", seconds = 2 }, models))
    assert.matches('"seconds":2', body)
    local ok, err = validate.encode({ model = "acme/chime", prompt = ("x"):rep(51) }, models)
    assert.is_nil(ok)
    assert.equal("validation", err.kind)
  end

  function runners.elsewhere() end

  for _, page in ipairs({ "README.md", "doc/api.md", "doc/hosts.md", "doc/models.md", "doc/install.md",
    "doc/reliability.md", "doc/performance.md", "doc/development.md" }) do
    for _, b in ipairs(blocks(page)) do
      local c = case_of(b)
      local what = ("%s:%d (%s)"):format(b.page, b.line, b.heading)
      -- #posix: the shell, Neovim and LÖVE
      it("runs " .. what .. " #posix", function()
        assert(c, "no case runs the block at " .. what .. ":\n" .. b.code)
        runners[c.run](b, c)
      end)
    end
  end
end)
