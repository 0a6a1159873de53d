-- The repository as a Neovim plugin, in headless Neovim against the mock server. Neovim gets
-- the checkout on its runtimepath, as lazy.nvim puts it there, and nothing on LUA_PATH or
-- LUA_CPATH: the module comes from lua/, its core from lua/aimlmusic/core.so (`make nvim`,
-- run first; a no-op when up to date). Each case runs a scenario (Lua, inside Neovim) with
-- spec/support/nvim_helper.lua and reads back what it recorded.

local fixture = require "support.fixture"
local util = require "support.util"
local json = require("cjson").new()

local LYRICS = "[Verse]\nStreetlights flicker, the night breeze sighs\n[Chorus]\nIn this small cafe, I find my way"
local PROMPT = "A calm and soothing instrumental with gentle piano and soft strings."

local q, read_file, write_file, execute = util.q, util.read_file, util.write_file, util.execute
local by_host = util.select_reqs

-- #posix: needs Neovim
describe("the Neovim plugin #posix", function()
  local env = fixture.mock_client { duration = 0.5, client = false, dir = "private" }
  local root, n = util.repo_root(), 0

  setup(function()
    local log = os.tmpname()
    local ok = execute("cd " .. q(root) .. " && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u LD_PRELOAD"
      .. " make --no-print-directory nvim >" .. q(log) .. " 2>&1")
    local out = read_file(log) or ""
    os.remove(log)
    assert(ok, "make nvim failed:\n" .. out)
  end)

  local function new_case()
    n = n + 1
    local case = env.dir .. "/case" .. n
    util.mkdir(case .. "/run")
    write_file(case .. "/song.txt", LYRICS .. "\n")
    return case
  end

  -- The command that runs scenario (Lua source) in Neovim, in directory case, on song.txt.
  -- opts.env: more variables; opts.state: the state directory (shared to resume).
  local function nvim_cmd(case, scenario, opts)
    opts = opts or {}
    write_file(case .. "/run/scenario.lua", scenario)
    local state = opts.state or case .. "/xdg"
    local vars = {
      XDG_RUNTIME_DIR = case .. "/run", NVIM_LOG_FILE = case .. "/run/nvim-internal.log",
      XDG_DATA_HOME = state .. "/data", XDG_STATE_HOME = state .. "/state", XDG_CONFIG_HOME = state .. "/config",
      AIMLAPI_BASE_URL = env.mock.api_url, AIMLAPI_KEY = env.mock.key,
      AIMLMUSIC_NVIM_RESULT = case .. "/run/result.json", AIMLMUSIC_NVIM_ROOT = root,
      AIMLMUSIC_NVIM_HELPER = root .. "/spec/support/nvim_helper.lua",
    }
    for k, v in pairs(opts.env or {}) do vars[k] = v end
    local parts = { "cd", q(case), "&&", "env -u LD_PRELOAD -u DISPLAY -u NVIM -u NVIM_LISTEN_ADDRESS",
      "-u LUA_PATH -u LUA_CPATH" }
    for k, v in pairs(vars) do parts[#parts + 1] = k .. "=" .. q(v) end
    -- the scenarios give up after 20 s; this kills Neovim should one hang anyway
    -- opts.user: a user's own set-up (no --clean: stdpath("data")/site/pack is searched);
    -- opts.init: Lua run before plugins load (default: the checkout on the runtimepath)
    parts[#parts + 1] = "timeout -k 5 40 nvim --headless " .. (opts.user and "-u NORC -i NONE" or "--clean")
    local init = opts.init == nil and "vim.opt.runtimepath:prepend(os.getenv('AIMLMUSIC_NVIM_ROOT'))" or opts.init
    if init then parts[#parts + 1] = "--cmd " .. q("lua " .. init) end
    parts[#parts + 1] = "song.txt -c " .. q("luafile run/scenario.lua")
    parts[#parts + 1] = "</dev/null >" .. q(case .. "/run/nvim.log") .. " 2>&1"
    return table.concat(parts, " ")
  end

  local function dump(res)
    local lines = {}
    for _, m in ipairs(res.notes or {}) do
      lines[#lines + 1] = ("  [%d%s] %s"):format(m.level, m.fast and ", fast event" or "", m.msg)
    end
    return table.concat(lines, "\n")
  end

  -- Runs the scenario; returns what it recorded (raising with Neovim's output on failure).
  local function run(case, scenario, opts)
    os.remove(case .. "/run/result.json")
    local ok, code = execute(nvim_cmd(case, scenario, opts))
    local s = read_file(case .. "/run/result.json")
    assert(s, ("Neovim wrote no result (exit %s, ok %s); its output:\n%s"):format(
      tostring(code), tostring(ok), read_file(case .. "/run/nvim.log") or ""))
    local res = json.decode(s)
    assert(not res.error, tostring(res.error) .. "\nnotifications:\n" .. dump(res))
    for _, m in ipairs(res.notes) do
      assert.is_false(m.fast, "vim.notify called from a fast event: " .. m.msg)
    end
    return res
  end

  -- The first recorded notification whose text has plain string text.
  local function H_find(res, text)
    for _, m in ipairs(res.notes or {}) do
      if m.msg:find(text, 1, true) then return m end
    end
  end

  local HEAD = [[
local H = dofile(os.getenv("AIMLMUSIC_NVIM_HELPER"))
local plugin = require("aimlmusic.nvim")
]]

  local function posts()
    return by_host(env.mock:requests(), "api", "POST")
  end

  it("generates a track beside the buffer, one notification updated in place, the editor never waiting",
    function()
      local case = new_case()
      env.mock:config { duration = 1.5 }
      local res = run(case, HEAD .. [[
H.record_notify("replace")
plugin.setup { poll_interval = 0.25 }
H.run(function()
  plugin.library() -- loading the module is a one-time cost (~20 ms), not the job's
  local tick = H.ticker()
  vim.wait(1500, function() return false end, 10)   -- the baseline: the editor alone
  local baseline = tick()
  H.hold(50, 5)                                      -- and the editor held for 50 ms of CPU
  local held = tick()
  H.generate("]] .. PROMPT .. [[")
  local job = tick()
  H.hold(50, 5)                                      -- again, after the job
  local held_after = tick(true)
  H.finish { baseline = baseline, job = job, held = math.max(held.max_gap_ms, held_after.max_gap_ms),
             has_command = vim.fn.exists(":AimlMusic") == 2 }
end)
]])
      assert.is_true(res.has_command)
      local saved = read_file(case .. "/song.mp3")
      assert.is_truthy(saved and #saved > 0, "no song.mp3 beside song.txt")
      local cdn = by_host(env.mock:requests(), "cdn")
      assert.equal(1, #cdn)
      assert.equal(#util.fetch(env.mock.cdn_url .. cdn[1].path .. "?" .. cdn[1].query), #saved)
      assert.equal(1, #posts())
      local body = json.decode(posts()[1].body)
      assert.equal(LYRICS, body.lyrics)
      assert.equal(PROMPT, body.prompt)

      -- One notification: each update replaces the one before, the last names the file.
      local notes = res.notes
      assert.is_true(#notes >= 4, dump(res))
      assert.is_nil(notes[1].replace)
      for i = 2, #notes do
        assert.equal(notes[i - 1].id, notes[i].replace, "notification " .. i .. " does not replace " .. (i - 1))
        assert.equal(notes[1].key, notes[i].key)
      end
      assert.matches("queued", dump(res))
      assert.matches("generating", dump(res))
      assert.matches("saved " .. (case .. "/song.mp3"):gsub("%p", "%%%0"), notes[#notes].msg)

      -- The editor never waited: the timer's largest gap during the job stays near the
      -- largest one of the editor alone, measured just before in the same run, or below what
      -- holding the editor for 50 ms of CPU takes right now, measured before and after it (a
      -- loaded machine stretches both alike). The CPU time spent between two ticks, which load
      -- cannot stretch, stays under twice those 50 ms (shared caches still slow each instruction).
      local b, j = res.baseline, res.job
      print(("\n  nvim: largest timer gap %.1f ms during the job (%.1f ms of CPU between two ticks at most), "
        .. "%.1f ms alone, %.1f ms held for 50 ms of CPU (%d ticks over %.0f ms)"):format(
        j.max_gap_ms, j.max_cpu_ms, b.max_gap_ms, res.held, j.ticks, j.elapsed_ms))
      assert.is_true(j.max_cpu_ms < 100, ("%.1f ms of CPU between two ticks"):format(j.max_cpu_ms))
      assert.is_true(j.elapsed_ms >= 1400, "the job took less than its duration")
      assert.is_true(j.ticks >= j.elapsed_ms / 20 * math.min(1, b.ticks / (b.elapsed_ms / 10)),
        ("only %d ticks in %.0f ms"):format(j.ticks, j.elapsed_ms))
      local bound = math.max(2 * b.max_gap_ms, b.max_gap_ms + 40, res.held + 10)
      assert.is_true(j.max_gap_ms < bound, ("largest gap %.1f ms, bound %.1f ms"):format(j.max_gap_ms, bound))
    end)

  it("with the plain vim.notify shows only a job's first and last message", function()
    local case = new_case()
    local res = run(case, HEAD .. [[
H.record_notify("plain")
plugin.setup { poll_interval = 0.1 }
H.run(function()
  H.generate("]] .. PROMPT .. [[")
  vim.wait(300, function() return false end)
  H.finish {}
end)
]])
    assert.equal(2, #res.notes, dump(res))
    assert.matches("submitting", res.notes[1].msg)
    assert.matches("saved ", res.notes[2].msg)
  end)

  it("takes the lyrics from a range, the prompt from vim.ui.input, and a model from :AimlMusic models", function()
    local case = new_case()
    local res = run(case, HEAD .. [[
H.record_notify("replace")
plugin.setup { poll_interval = 0.1 }
vim.ui.input = function(_, cb) cb("]] .. PROMPT .. [[") end -- luacheck: ignore
H.run(function()
  vim.cmd("AimlMusic models")
  vim.cmd("AimlMusic models minimax/music-1.5")
  vim.cmd("3,4AimlMusic generate")
  H.wait_for(function() return H.find("saved ") end, 20000, "the track")
  H.finish {
    subcommands = vim.fn.getcompletion("AimlMusic ", "cmdline"),
    models = vim.fn.getcompletion("AimlMusic models minimax/music-1", "cmdline"),
  }
end)
]])
    local body = json.decode(posts()[1].body)
    assert.equal("minimax/music-1.5", body.model)
    assert.equal(PROMPT, body.prompt)
    assert.equal("[Chorus]\nIn this small cafe, I find my way", body.lyrics)
    assert.same({ "generate", "status", "cancel", "resume", "models", "play" }, res.subcommands)
    assert.same({ "minimax/music-1.5" }, res.models)
    local list = res.notes[1].msg
    assert.matches("%* minimax/music%-2%.0", list)
    assert.matches("  minimax/music%-1%.5", list)
  end)

  it("takes the key from api_key_cmd, never showing it", function()
    local case = new_case()
    local res = run(case, HEAD .. [[
H.record_notify("replace")
plugin.setup { poll_interval = 0.1, api_key_cmd = { "sh", "-c", "printf '%s\\n' \"$THE_KEY\"" } }
H.run(function()
  H.generate("]] .. PROMPT .. [[", function() return H.find("saved ") or H.find("failed") end, "the track")
  H.finish {}
end)
]], { env = { AIMLAPI_KEY = "wrong-key", THE_KEY = env.mock.key } })
    assert.matches("saved ", res.notes[#res.notes].msg, dump(res))
    assert.is_true(#read_file(case .. "/song.mp3") > 0)
    for _, m in ipairs(res.notes) do assert.is_nil(m.msg:find(env.mock.key, 1, true)) end
  end)

  -- A refused key (401) or none at all: the job fails, and the next one reads the key again,
  -- so setting the right one needs no restart (the client made before kept the old one).
  it("with no key or a refused one, a job fails saying so; once AIMLAPI_KEY is set, the next one succeeds",
    function()
      local case = new_case()
      local script = HEAD .. [[
H.record_notify("replace")
plugin.setup { poll_interval = 0.1 }
H.run(function()
  H.generate("]] .. PROMPT .. [[", function() return H.find("failed") end, "the first job's failure")
  vim.env.AIMLAPI_KEY = os.getenv("THE_KEY")
  H.generate("]] .. PROMPT .. [[", function()
    local j = plugin.jobs()[2]
    return j and (j.status == "saved" or j.status == "failed")
  end, "the second job")
  H.finish { statuses = { plugin.jobs()[1].status, plugin.jobs()[2].status } }
end)
]]
      for _, key in ipairs({ "", "wrong-key" }) do
        local res = run(case, script, { env = { AIMLAPI_KEY = key, THE_KEY = env.mock.key } })
        local failed = H_find(res, "failed")
        assert.is_truthy(failed, dump(res))
        assert.equal(4, failed.level)
        if key == "" then
          assert.matches("no API key: set AIMLAPI_KEY", failed.msg)
          assert.matches("api_key_cmd", failed.msg)
          assert.is_nil(failed.msg:find("new()", 1, true), "the library's advice: " .. failed.msg)
        else
          assert.matches("401", failed.msg)
          assert.matches("the key was refused", failed.msg)
        end
        assert.same({ "failed", "saved" }, res.statuses, dump(res))
        for _, m in ipairs(res.notes) do assert.is_nil(m.msg:find(env.mock.key, 1, true)) end
        os.remove(case .. "/song.mp3")
      end
    end)

  -- stable-audio and google/lyria2 take no lyrics, and make wav: the buffer is not sent (the
  -- model would refuse the field), and the track is named for what it is.
  it("a model without lyrics gets the prompt alone; the track's extension is the model's format", function()
    local case = new_case()
    local res = run(case, HEAD .. [[
H.record_notify("replace")
plugin.setup { poll_interval = 0.1 }
H.run(function()
  vim.cmd("AimlMusic models stable-audio")
  H.generate("]] .. PROMPT .. [[", function() return H.find("saved ") or H.find("failed") end, "the track")
  H.finish { path = plugin.jobs()[1] and plugin.jobs()[1].path }
end)
]])
    assert.equal(case .. "/song.wav", res.path, dump(res))
    assert.matches("takes no lyrics", dump(res))
    assert.equal(1, #posts())
    local body = json.decode(posts()[1].body)
    assert.equal("stable-audio", body.model)
    assert.is_nil(body.lyrics)
    assert.equal("RIFF", read_file(case .. "/song.wav"):sub(1, 4))
    assert.is_nil(read_file(case .. "/song.mp3"))
  end)

  -- api_key_cmd may take a while (a passphrase asked by gpg): a job cancelled meanwhile is never sent.
  it("cancel while api_key_cmd runs stops the job before anything is sent", function()
    local case = new_case()
    local res = run(case, HEAD .. [[
H.record_notify("replace")
plugin.setup { poll_interval = 0.1, api_key_cmd = { "sh", "-c", "sleep 1; printf '%s\\n' \"$THE_KEY\"" } }
H.run(function()
  vim.cmd("AimlMusic generate ]] .. PROMPT .. [[")
  local completions = vim.fn.getcompletion("AimlMusic cancel ", "cmdline")
  vim.cmd("AimlMusic cancel")
  vim.wait(2500, function() return false end) -- the key comes after 1 s
  H.finish { status = plugin.jobs()[1].status, completions = completions, pending = #plugin.pending() }
end)
]], { env = { THE_KEY = env.mock.key } })
    assert.same({ "#1" }, res.completions)
    assert.equal("cancelled", res.status)
    assert.matches("cancelled before anything was sent", res.notes[#res.notes].msg, dump(res))
    assert.equal(0, #env.mock:requests())
    assert.equal(0, res.pending)
    assert.is_nil(read_file(case .. "/song.mp3"))
  end)

  it("refuses invalid parameters at ERROR level and sends nothing", function()
    local case = new_case()
    local res = run(case, HEAD .. [[
H.record_notify("replace")
H.run(function()
  vim.cmd("AimlMusic generate too short")
  H.finish {}
end)
]])
    assert.equal(1, #res.notes)
    assert.equal(4, res.notes[1].level) -- vim.log.levels.ERROR
    assert.matches("validation", res.notes[1].msg)
    assert.matches("prompt", res.notes[1].msg)
    assert.equal(0, #env.mock:requests())
  end)

  it("status lists the jobs; cancel stops one, leaving no file and nothing to resume", function()
    local case = new_case()
    env.mock:config { duration = 30 }
    local res = run(case, HEAD .. [[
H.record_notify("replace")
plugin.setup { poll_interval = 0.1 }
H.run(function()
  H.generate("]] .. PROMPT .. [[", function() return plugin.jobs()[1].id ~= nil end, "the job id")
  vim.cmd("AimlMusic status")
  local completions = vim.fn.getcompletion("AimlMusic cancel ", "cmdline")
  vim.cmd("AimlMusic cancel")
  vim.wait(300, function() return false end)
  H.finish { status = plugin.jobs()[1].status, pending = #plugin.pending(), completions = completions }
end)
]])
    local text = dump(res)
    assert.matches("#1 song.txt: %a+ %(", text)
    assert.matches("cancelled", res.notes[#res.notes].msg)
    assert.equal("cancelled", res.status)
    assert.equal(0, res.pending)
    assert.same({ "#1" }, res.completions)
    assert.is_nil(read_file(case .. "/song.mp3"))
    assert.is_nil(read_file(case .. "/song.mp3.lock"), "the reservation was left beside the output")
    assert.equal(0, #by_host(env.mock:requests(), "cdn"))
  end)

  -- Its POST may have made a paid job: the submit runs on to the answer and the journal's
  -- record, and the next job takes another name than the one that job will fill.
  it("cancel while the job is being submitted keeps the job for resume; the next job takes another name", function()
    local case = new_case()
    env.mock:config { duration = 30 }
    env.mock:fault { method = "POST", delay_ms = 1000 }
    local res = run(case, HEAD .. [[
H.record_notify("replace")
plugin.setup { poll_interval = 0.1 }
H.run(function()
  vim.cmd("AimlMusic generate ]] .. PROMPT .. [[")
  vim.wait(400, function() return false end) -- the POST is out, its answer 1 s away
  vim.cmd("AimlMusic cancel")
  local first = plugin.jobs()[1]
  H.wait_for(function() return first.task:done() end, 5000, "the cancelled task's end")
  vim.cmd("AimlMusic generate ]] .. PROMPT .. [[")
  H.finish { pending = #plugin.pending(), second = plugin.jobs()[2].path }
end)
]])
    assert.matches("cancelled while submitting", dump(res))
    assert.equal(1, res.pending)
    assert.equal(case .. "/song-1.mp3", res.second)
  end)

  it("plays the last track with the first player found", function()
    local case = new_case()
    util.mkdir(case .. "/bin")
    -- Written aside and renamed, so the file is complete once it exists.
    write_file(case .. "/bin/mpv",
      "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > \"$PLAYED.tmp\" && mv \"$PLAYED.tmp\" \"$PLAYED\"\n")
    execute("chmod +x " .. q(case .. "/bin/mpv"))
    local res = run(case, HEAD .. [[
H.record_notify("replace")
plugin.setup { poll_interval = 0.1 }
H.run(function()
  H.generate("]] .. PROMPT .. [[")
  vim.cmd("AimlMusic play")
  H.wait_for(function() return vim.loop.fs_stat(os.getenv("PLAYED")) ~= nil end, 5000, "the player")
  H.finish { player = plugin.player()[1] }
end)
]], { env = { PATH = case .. "/bin:" .. os.getenv("PATH"), PLAYED = case .. "/played" } })
    assert.equal("mpv", res.player)
    assert.matches(("\n" .. case .. "/song.mp3\n"):gsub("%p", "%%%0"), read_file(case .. "/played"))
  end)

  it("a player that cannot start is said as an error, not raised; a player given as a string runs in the shell",
    function()
      local case = new_case()
      write_file(case .. "/x.mp3", "ID3")
      local res = run(case, HEAD .. [[
H.record_notify("replace")
H.run(function()
  plugin.setup { player = { "no-such-player-xyz" } }
  local ok, err = pcall(vim.cmd, "AimlMusic play x.mp3")
  plugin.setup { player = 'echo >"$PLAYED"' }
  local ok2, err2 = pcall(vim.cmd, "AimlMusic play x.mp3")
  H.wait_for(function()
    local f = io.open(os.getenv("PLAYED"))
    local s = f and f:read("*a")
    if f then f:close() end
    return s and s:find("\n")
  end, 5000, "the shell player")
  H.finish { ok = ok, err = tostring(err), ok2 = ok2, err2 = tostring(err2) }
end)
]], { env = { PLAYED = case .. "/played" } })
      assert.is_true(res.ok, res.err)
      assert.is_true(res.ok2, res.err2)
      local said = H_find(res, "cannot start")
      assert.is_truthy(said, dump(res))
      assert.equal(4, said.level)
      assert.matches("no%-such%-player%-xyz", said.msg)
      assert.equal("x.mp3\n", read_file(case .. "/played"))
    end)

  it(":checkhealth aimlmusic says an api_key_cmd or a player that cannot run, and finishes", function()
    local case = new_case()
    local res = run(case, HEAD .. [[
H.run(function()
  plugin.setup { api_key_cmd = { "no-such-key-cmd-xyz" }, player = { "no-such-player-xyz" } }
  vim.cmd("checkhealth aimlmusic")
  H.finish { text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n") }
end)
]])
    local text = res.text
    assert.is_nil(text:find("Failed to run healthcheck", 1, true), text)
    assert.matches("ERROR:? cannot run api_key_cmd", text)
    assert.matches("WARNING:? player no%-such%-player%-xyz is not found", text)
    assert.matches("aimlmusic: journal", text) -- the sections after the key's still ran
  end)

  it("after the editor is killed mid-job, offers the job at start and resume finishes it without a second POST",
    function()
      local case = new_case()
      local state = case .. "/xdg"
      env.mock:config { duration = 2 }
      -- First session: generate, then wait to be killed once the job is journaled.
      local cmd = nvim_cmd(case, HEAD .. [[
H.record_notify("replace")
plugin.setup { poll_interval = 0.2 }
H.run(function()
  H.generate("]] .. PROMPT .. [[", function() return plugin.jobs()[1].id ~= nil end, "the job id")
  local f = io.open(os.getenv("AIMLMUSIC_NVIM_RESULT") .. ".pid", "w")
  f:write(vim.fn.getpid())
  f:close()
  vim.wait(30000, function() return false end)
end)
]], { state = state })
      execute(cmd .. " &")
      local pidfile, pid = case .. "/run/result.json.pid", nil
      for _ = 1, 400 do
        pid = read_file(pidfile)
        if pid and pid:match("^%d+$") then break end
        execute("sleep 0.05")
      end
      assert(pid and pid:match("^%d+$"),
        "the first session never submitted:\n" .. (read_file(case .. "/run/nvim.log") or ""))
      assert.is_true(execute("kill -9 " .. pid))
      execute("sleep 0.2")
      assert.equal(1, #posts())
      assert.is_nil(read_file(case .. "/song.mp3"))

      -- Second session: the job is offered; :AimlMusic resume downloads it to song.mp3.
      local res = run(case, HEAD .. [[
H.record_notify("replace")
plugin.setup { poll_interval = 0.2 }
H.run(function()
  H.wait_for(function() return H.find("unfinished job") end, 5000, "the offer")
  vim.cmd("AimlMusic resume")
  H.wait_for(function() return H.find("saved ") end, 20000, "the track")
  H.finish { pending = #plugin.pending() }
end)
]], { state = state })
      assert.matches("1 unfinished job", res.notes[1].msg)
      assert.matches(":AimlMusic resume", res.notes[1].msg)
      assert.is_true(#read_file(case .. "/song.mp3") > 0)
      assert.equal(1, #posts())
      assert.equal(0, res.pending)
    end)

  it("resumes each unfinished job in a task of its own: cancelling one leaves the other going", function()
    local case = new_case()
    env.mock:config { duration = 1.5 }
    local res = run(case, HEAD .. [[
H.record_notify("replace")
plugin.setup { poll_interval = 0.1 }
H.run(function()
  -- two jobs of "an earlier session": submitted to the plugin's journal, never waited for
  local music = plugin.library()
  vim.fn.mkdir(vim.fn.fnamemodify(plugin.journal_path(), ":h"), "p")
  local c = assert(music.new { journal = plugin.journal_path() })
  local made = 0
  for _ = 1, 2 do
    music.spawn(function()
      assert(c:submit { model = "minimax/music-2.0", prompt = "]] .. PROMPT .. [[", lyrics = "[Verse]\nla la" })
      made = made + 1
    end)
  end
  H.wait_for(function() return made == 2 end, 10000, "the submits")
  assert(#plugin.pending() == 2, "the journal holds " .. #plugin.pending() .. " jobs")
  vim.cmd("AimlMusic resume")
  vim.cmd("AimlMusic cancel #1")
  H.wait_for(function() return plugin.jobs()[2].status == "saved" end, 20000, "the second job")
  H.finish { first = plugin.jobs()[1].status, second = plugin.jobs()[2].status, pending = #plugin.pending() }
end)
]])
    assert.equal("cancelled", res.first, json.encode(res))
    assert.equal("saved", res.second)
    assert.equal(0, res.pending) -- the cancelled one is out of the journal too
  end)

  it("says on leaving that jobs in flight will be resumed next time", function()
    local case = new_case()
    env.mock:config { duration = 30 }
    run(case, HEAD .. [[
H.record_notify("replace")
H.run(function()
  H.generate("]] .. PROMPT .. [[", function() return plugin.jobs()[1].id ~= nil end, "the job id")
  -- after the plugin's own VimLeavePre, record what was said
  vim.api.nvim_create_autocmd("VimLeavePre", { callback = function() H.finish({}, false) end })
  vim.cmd("qa!")
end)
]])
    local res = json.decode(read_file(case .. "/run/result.json"))
    local last = res.notes[#res.notes]
    assert.matches("1 job%(s%) in flight", last.msg)
    assert.matches("resume", last.msg)
  end)

  it(":checkhealth aimlmusic reports the module, libcurl, JSON, key, journal", function()
    local case = new_case()
    local res = run(case, HEAD .. [[
H.run(function()
  vim.cmd("checkhealth aimlmusic")
  H.finish { text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n") }
end)
]], { env = { AIMLAPI_KEY = "sk-secret-health-key" } })
    local text = res.text
    assert.matches("OK:? aimlmusic %d+%.%d+", text)
    assert.matches("core [%d.]+: " .. (root .. "/lua/aimlmusic/core.so"):gsub("%p", "%%%0"), text)
    assert.matches("libcurl/%d", text)
    assert.matches("TLS backend: %a+", text)
    assert.matches("JSON: the core's own", text)
    assert.matches("AIMLAPI_KEY is set %(not shown%)", text)
    assert.matches("writable: .*jobs%.journal", text)
    assert.matches("no unfinished jobs", text)
    assert.is_nil(text:find("sk-secret-health-key", 1, true))
    assert.is_nil(text:find("ERROR", 1, true), text)
  end)

  it("with no lua-cjson anywhere, the plugin generates: the JSON is the core's own", function()
    local case = new_case()
    local res = run(case, HEAD .. [[
package.path, package.cpath = "", "" -- nothing but the runtimepath: no system lua-cjson
H.record_notify("replace")
plugin.setup { poll_interval = 0.1 }
H.run(function()
  H.generate("]] .. PROMPT .. [[")
  vim.cmd("checkhealth aimlmusic")
  H.finish { text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n") }
end)
]])
    assert.is_true(#read_file(case .. "/song.mp3") > 0)
    assert.matches("JSON: the core's own", res.text)
    assert.equal(1, #posts())
  end)

  it("the C core on its own, with no lua-cjson anywhere, decodes with its own JSON: null, depth, numbers", function()
    local case = new_case()
    local res = run(case, [[
local H = dofile(os.getenv("AIMLMUSIC_NVIM_HELPER"))
package.path, package.cpath = "", ""
package.loaded.cjson, package.preload.cjson = nil, nil
H.run(function()
  local cjson_found = pcall(require, "cjson")
  local response = require "aimlmusic.response" -- the core from the runtimepath: lua/aimlmusic/core.so
  local function classify(body)
    local st, err = response.classify("status", 200, body)
    return { ok = st ~= nil, status = st and st.status, kind = err and err.kind, msg = err and err.message }
  end
  local function nest(n) return ('{"id":"a","status":"queued","x":' .. ("["):rep(n) .. ("]"):rep(n) .. "}") end
  H.finish {
    cjson_found = cjson_found,
    null_file = classify('{"id":"a","status":"queued","audio_file":null}'),
    null_url = classify('{"id":"a","status":"queued","audio_file":{"url":null}}'),
    nan = classify('{"id":"a","status":"queued","x":NaN}'),
    inf = classify('{"id":"a","status":"queued","x":-Infinity}'),
    hex = classify('{"id":"a","status":"queued","x":0x10}'),
    deep_ok = classify(nest(60)),
    too_deep = classify(nest(70)),
  }
end)
]])
    assert.is_false(res.cjson_found)
    assert.is_true(res.null_file.ok, tostring(res.null_file.msg))
    assert.equal("queued", res.null_file.status)
    assert.is_true(res.null_url.ok, tostring(res.null_url.msg))
    for _, k in ipairs({ "nan", "inf", "hex", "too_deep" }) do
      assert.is_false(res[k].ok, k .. " was accepted")
      assert.equal("protocol", res[k].kind, k)
      assert.matches("not JSON", res[k].msg, nil, false, k)
    end
    assert.matches("nested", res.too_deep.msg)
    assert.is_true(res.deep_ok.ok, tostring(res.deep_ok.msg))
  end)

  it(":help aimlmusic documents every command and option; :helptags builds cleanly", function()
    local case = new_case()
    util.mkdir(case .. "/rtp")
    execute("cp -R " .. q(root .. "/doc") .. " " .. q(case .. "/rtp/doc"))
    local res = run(case, HEAD .. [[
H.run(function()
  local dir = vim.fn.getcwd() .. "/rtp"
  local ok, err = pcall(vim.cmd, "helptags " .. vim.fn.fnameescape(dir .. "/doc"))
  vim.opt.runtimepath:prepend(dir)
  local found = {}
  for _, tag in ipairs({ "aimlmusic", ":AimlMusic", ":AimlMusic-generate", ":AimlMusic-status",
    ":AimlMusic-cancel", ":AimlMusic-resume", ":AimlMusic-models", ":AimlMusic-play", "aimlmusic-setup",
    "aimlmusic-health", "aimlmusic-journal", "aimlmusic-notifications" }) do
    local hok = pcall(vim.cmd, "help " .. tag)
    found[#found + 1] = hok and vim.fn.expand("%:t") == "aimlmusic.txt" and tag or ("missing " .. tag)
  end
  H.finish { helptags_ok = ok, helptags_err = tostring(err), errmsg = vim.v.errmsg, found = found,
    text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n") }
end)
]])
    assert.is_true(res.helptags_ok, res.helptags_err)
    assert.equal("", res.errmsg)
    for _, f in ipairs(res.found) do assert.is_nil(f:match("^missing"), f) end
    for _, opt in ipairs({ "model", "output_dir", "api_key_cmd", "poll_interval", "journal", "resume_on_start",
      "player", "params", "base_url" }) do
      assert.matches(opt .. " =", res.text)
    end
  end)
  -- The checkout's files as git has them (no build output, no core.so), copied to dest.
  local function copy_checkout(dest)
    util.mkdir(dest)
    local ok = execute("cd " .. q(root) .. " && git ls-files -co --exclude-standard -z | env -u LD_PRELOAD xargs -0 "
      .. "cp --parents -t " .. q(dest))
    assert(ok, "cannot copy the checkout to " .. dest)
    return dest
  end


  -- The first ```lang block of README.md after the line holding marker.
  local function readme_block(marker, lang)
    local readme = assert(read_file(root .. "/README.md"))
    local at = assert(readme:find(marker, 1, true), "README.md has no " .. marker)
    return assert(readme:match("```" .. lang .. "\n(.-)\n```", at), "no " .. lang .. " block after " .. marker)
  end

  -- What the scenarios record of the progress reports: User AimlMusicProgress, and fidget.nvim's
  -- progress API as a plugin sees it (a recorder where fidget would be).
  local RECORD_PROGRESS = [[
H.progress, H.fidget = {}, {}
vim.api.nvim_create_autocmd("User", { pattern = "AimlMusicProgress", callback = function()
  local r = vim.g.aimlmusic_progress
  H.progress[#H.progress + 1] = { token = r.token, id = r.id, kind = r.value.kind, message = r.value.message,
    percentage = r.value.percentage }
end })
package.preload["fidget.progress"] = function()
  local handle = {}
  handle.create = function(o)
    H.fidget[#H.fidget + 1] = { "create", o.title, o.message, o.lsp_client and o.lsp_client.name }
    return { report = function(_, r) H.fidget[#H.fidget + 1] = { "report", r.message } end,
             finish = function(h) H.fidget[#H.fidget + 1] = { "finish", h.message } end }
  end
  return { handle = handle }
end
]]

  -- Seconds from a job's first notification to the one naming its saved file.
  local function job_seconds(res)
    local first, saved = res.notes[1], nil
    for _, m in ipairs(res.notes) do
      if m.msg:find("saved ", 1, true) then saved = m end
    end
    assert(first and saved, "no saved track:\n" .. dump(res))
    return (saved.at - first.at) / 1000
  end

  local SCALE = tonumber(os.getenv("AIMLMUSIC_TIME_SCALE")) or 1 -- valgrind: the Makefile says

  it("takes the README's lazy.nvim spec as lazy.nvim does: require(main).setup(opts), main found from the name; "
    .. "a 3 s job's track comes within 6 s; one progress item per job, with its id",
    function()
      local case = new_case()
      env.mock:reset()
      env.mock:config { duration = 3 }
      write_file(case .. "/run/lazy_spec.lua", "return " .. readme_block("With lazy.nvim:", "lua"))
      local res = run(case, [[
local H = dofile(os.getenv("AIMLMUSIC_NVIM_HELPER"))
]] .. RECORD_PROGRESS .. [[
H.record_notify("replace")
local spec = dofile("run/lazy_spec.lua")
-- lazy.nvim: the plugin's name is the URL's last part; config (opts given, no config function)
-- runs require(get_main(plugin)).setup(opts); get_main takes the top-level Lua module of the
-- plugin's directory whose normalized name is the plugin's (lua/lazy/core/loader.lua).
local function normname(name)
  local ret = name:lower():gsub("^n?vim%-", ""):gsub("%.n?vim$", ""):gsub("[%.%-]lua", ""):gsub("[^a-z]+", "")
  return ret
end
local function get_main(plugin)
  if plugin.main then return plugin.main end
  local mods = {}
  local dir = vim.loop.fs_scandir(plugin.dir .. "/lua")
  while true do
      local name, t = vim.loop.fs_scandir_next(dir)
      if not name then break end
      local mod = t == "file" and name:match("^(.+)%.lua$")
        or (t == "directory" and vim.loop.fs_stat(plugin.dir .. "/lua/" .. name .. "/init.lua") and name)
      if mod then
        mods[#mods + 1] = mod
        if normname(mod) == normname(plugin.name) then return mod end
      end
  end
  return #mods == 1 and mods[1] or nil
end
local plugin = { name = spec[1]:match("[^/]+$"), dir = os.getenv("AIMLMUSIC_NVIM_ROOT"), main = spec.main,
  opts = spec.opts, build = spec.build }
local main = get_main(plugin)
local ok, err = pcall(function() require(main).setup(plugin.opts) end)
H.run(function()
  if not ok then return H.finish { error = "Failed to run `config` for " .. plugin.name .. ": " .. tostring(err) } end
  vim.cmd("AimlMusic generate ]] .. PROMPT .. [[")
  H.wait_for(function() return H.find("saved ") ~= nil end, 20000, "the track")
  vim.wait(100, function() return false end)
  local job = require("aimlmusic.nvim").jobs()[1]
  H.finish { main = main, build = plugin.build, model = require("aimlmusic.nvim").config.model,
      as_pasted = vim.deep_equal(plugin.opts, spec.opts), job_id = job.id, progress = H.progress, fidget = H.fidget }
end)
]])
      assert.equal("aimlmusic", res.main)
      assert.equal("make nvim", res.build) -- what setup() above ran
      local opts = dofile(case .. "/run/lazy_spec.lua").opts
      assert.equal(opts.model, res.model)
      assert.equal(opts.model, json.decode(posts()[1].body).model)
      local took = job_seconds(res)
      print(("\n  nvim: a fresh client had the 3 s job's track %.2f s after the job's first notification"):format(took))
      assert.is_true(took >= 3 and took < 3 + 3 * SCALE, took .. " s")

      -- Notifications: one per job, replaced in place (nvim-notify's replace, snacks' id, fidget's key).
      for i = 2, #res.notes do
        assert.equal(res.notes[i - 1].id, res.notes[i].replace)
        assert.equal(res.notes[1].opts_id, res.notes[i].opts_id)
      end
      -- Progress: begin, reports, end, under one token; the job's id from its first report after
      -- the submit answered, on every report from then on.
      local p = res.progress
      assert.is_true(#p >= 4, #p .. " progress reports")
      assert.equal("begin", p[1].kind)
      assert.is_nil(p[1].id)
      assert.equal("end", p[#p].kind)
      assert.equal(100, p[#p].percentage)
      assert.matches("saved ", p[#p].message)
      local first_id
      for i, r in ipairs(p) do
        assert.equal(p[1].token, r.token)
        if i > 1 and i < #p then assert.equal("report", r.kind) end
        if r.id and not first_id then first_id = i end
        if first_id then assert.equal(res.job_id, r.id, "report " .. i) end
      end
      assert.equal(2, first_id, "the id came late")
      assert.matches("queued", p[2].message)
      -- fidget.nvim: one handle per job, created, reported, finished.
      assert.equal("create", res.fidget[1][1])
      assert.equal("aimlmusic", res.fidget[1][4])
      assert.same({ "finish", p[#p].message }, res.fidget[#res.fidget])
      assert.equal(#p, #res.fidget)
    end)

  -- The README's two installs that compile the core, each from a copy of the checkout: make nvim
  -- in pack/*/start, and make rock into rocks.nvim's tree. The first case that needs one makes
  -- both, side by side; each case then checks its own.
  local installs
  local function readme_installs()
    if installs then return installs end
    local pack, rocks = { case = new_case() }, { case = new_case() }
    pack.lines = readme_block("With no plugin manager", "sh")
    pack.clone, pack.build = pack.lines:match("git clone %S+ (%S+)\n(make %-C %S+ nvim)")
    rocks.cmd = readme_block("With rocks.nvim", "sh")
    local made, cmds = {}, {}
    if pack.clone and pack.build then
      local data = pack.case .. "/xdg/data"
      pack.dest = pack.clone:gsub("^~/%.local/share", data)
      copy_checkout(pack.dest) -- what git clone makes (no network here)
      -- CFLAGS=-O0: a quicker compile of the same core; what is checked (loading it) is the same
      pack.line = "CFLAGS=-O0 " .. pack.build:gsub("~/%.local/share", data)
      made[#made + 1], cmds[#cmds + 1] = pack, pack.line
    end
    if rocks.cmd:match("^make rock LUA=luajit ROCK_TREE=~/%.local/share/nvim/rocks$") then
      rocks.data = rocks.case .. "/xdg/data"
      local copy = copy_checkout(rocks.case .. "/checkout") -- luarocks make builds in the tree
      -- ROCK_VARS: LuaRocks compiles at -O0, quicker; what is checked (installing, loading) is the same
      rocks.line = "cd " .. q(copy) .. " && HOME=" .. q(rocks.case)
        .. " http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 "
        .. "ROCK_VARS=" .. q(" CFLAGS='-O0 -fPIC'") .. " " .. rocks.cmd:gsub("~/%.local/share", rocks.data)
      made[#made + 1], cmds[#cmds + 1] = rocks, rocks.line
    end
    for i, r in ipairs(util.run_each(root, cmds)) do
      local t = made[i]
      t.ok, t.out = r.ok, r.out
    end
    installs = { pack = pack, rocks = rocks }
    return installs
  end

  it("installed as the README says into pack/*/start: :help aimlmusic without :helptags, and a track", function()
    local p = readme_installs().pack
    local case = p.case
    env.mock:reset()
    env.mock:config { duration = 0.5 }
    assert(p.clone and p.build, "README: " .. p.lines)
    assert(p.ok, p.line .. " failed:\n" .. p.out)
    local dest = p.dest
    local res = run(case, HEAD .. [[
H.record_notify("replace")
H.run(function()
  local has_command = vim.fn.exists(":AimlMusic") == 2
  local ok, err = pcall(vim.cmd, "help aimlmusic")
  local help = vim.api.nvim_buf_get_name(0)
  vim.cmd("close")
  plugin.generate("]] .. PROMPT .. [[")
  H.wait_for(function() return H.find("saved ") ~= nil end, 20000, "the track")
  H.finish { has_command = has_command, help_ok = ok, help_err = tostring(err), help = help,
    core = vim.api.nvim_get_runtime_file("lua/aimlmusic/core.so", false)[1] }
end)
]], { user = true, init = false })
    assert.is_true(res.has_command)
    assert.is_true(res.help_ok, res.help_err)
    assert.equal(dest .. "/doc/aimlmusic.txt", res.help)
    assert.equal(dest .. "/lua/aimlmusic/core.so", res.core)
    assert.is_true(#read_file(case .. "/song.mp3") > 0)
  end)

  it("on the runtimepath as the README says: :help from the shipped doc/tags, which is what :helptags makes",
    function()
      local case = new_case()
      local line = readme_block("With no plugin manager", "vim")
      local rtp = assert(line:match("^set runtimepath%+=(%S+)$"), line)
      util.mkdir(case .. "/fresh")
      execute("cp " .. q(root .. "/doc/aimlmusic.txt") .. " " .. q(case .. "/fresh/"))
      local res = run(case, [[
local H = dofile(os.getenv("AIMLMUSIC_NVIM_HELPER"))
H.run(function()
  local ok, err = pcall(vim.cmd, "help aimlmusic")
  local help = vim.api.nvim_buf_get_name(0)
  vim.cmd("helptags " .. vim.fn.fnameescape(vim.fn.getcwd() .. "/fresh"))
  H.finish { help_ok = ok, help_err = tostring(err), help = help }
end)
]], { init = ("vim.cmd(%q)"):format("set runtimepath+=" .. (rtp:gsub("^~/src/aimlmusic$", root))) })
      assert.is_true(res.help_ok, res.help_err)
      assert.equal(root .. "/doc/aimlmusic.txt", res.help)
      assert.equal(read_file(case .. "/fresh/tags"), read_file(root .. "/doc/tags"),
        "doc/tags is not what :helptags doc makes: nvim --headless --clean -c 'helptags doc' -c q")
    end)

  it("installed by LuaRocks into rocks.nvim's tree as the README says: the rock has plugin/ and doc/; "
    .. ":AimlMusic, :help and a track from it",
    function()
      local r = readme_installs().rocks
      local case = r.case
      env.mock:reset()
      env.mock:config { duration = 0.5 }
      assert.matches("^make rock LUA=luajit ROCK_TREE=~/%.local/share/nvim/rocks$", r.cmd)
      assert(r.ok, r.line .. " failed:\n" .. r.out)
      local data = r.data
      local rock = data .. "/nvim/rocks/lib/luarocks/rocks-5.1/aimlmusic/scm-1"
      for _, f in ipairs({ "plugin/aimlmusic.lua", "doc/aimlmusic.txt", "doc/tags" }) do
        assert.is_truthy(read_file(rock .. "/" .. f), f .. " is not in the rock")
      end
      -- What rocks.nvim sets up: the tree's modules on package.path and package.cpath, and each
      -- rock's directory on the runtimepath.
      local init = [[
local tree = vim.fn.stdpath("data") .. "/rocks"
package.path = package.path .. ";" .. tree .. "/share/lua/5.1/?.lua;" .. tree .. "/share/lua/5.1/?/init.lua"
package.cpath = package.cpath .. ";" .. tree .. "/lib/lua/5.1/?.so"
vim.opt.runtimepath:append(tree .. "/lib/luarocks/rocks-5.1/aimlmusic/scm-1")]]
      local res = run(case, HEAD .. [[
H.record_notify("replace")
H.run(function()
  local has_command = vim.fn.exists(":AimlMusic") == 2
  local ok, err = pcall(vim.cmd, "help aimlmusic")
  local help = vim.api.nvim_buf_get_name(0)
  vim.cmd("close")
  plugin.generate("]] .. PROMPT .. [[")
  H.wait_for(function() return H.find("saved ") ~= nil end, 20000, "the track")
  H.finish { has_command = has_command, help_ok = ok, help_err = tostring(err), help = help,
      core = package.searchpath("aimlmusic.core", package.cpath) }
end)
]], { init = init:gsub("\n", " ") })
      assert.is_true(res.has_command)
      assert.is_true(res.help_ok, res.help_err)
      assert.equal(rock .. "/doc/aimlmusic.txt", res.help)
      assert.equal(data .. "/nvim/rocks/lib/lua/5.1/aimlmusic/core.so", res.core)
      assert.is_true(#read_file(case .. "/song.mp3") > 0)
    end)

  it("without the C core built, :AimlMusic generate says what to install and where a prebuilt core goes", function()
    local case = new_case()
    env.mock:reset()
    local plug = copy_checkout(case .. "/plug") -- no lua/aimlmusic/core.so
    local res = run(case, [[
package.cpath = ""
local H = dofile(os.getenv("AIMLMUSIC_NVIM_HELPER"))
H.record_notify("replace")
H.run(function()
  -- lazy.nvim's opts: require(main).setup(opts), before anything is built
  local setup_ok, setup_err = pcall(function() require("aimlmusic").setup { model = "minimax/music-1.5" } end)
  -- a journal from an earlier session: status and resume read it
  local jp = require("aimlmusic.nvim").journal_path()
  vim.fn.mkdir(vim.fn.fnamemodify(jp, ":h"), "p")
  assert(io.open(jp, "w")):close()
  vim.cmd("AimlMusic generate ]] .. PROMPT .. [[")
  H.wait_for(function() return #H.notes > 0 end, 5000, "a message")
  local others = {}
  for _, sub in ipairs({ "models", "models stable-audio", "status", "resume" }) do
    local ok, err = pcall(vim.cmd, "AimlMusic " .. sub)
    others[#others + 1] = ok and (H.notes[#H.notes] or {}).msg or ("raised: " .. tostring(err))
  end
  H.finish { setup_ok = setup_ok, setup_err = tostring(setup_err), others = others }
end)
]], { init = ("vim.opt.runtimepath:prepend(%q)"):format(plug) })
    assert.is_true(res.setup_ok, res.setup_err)
    -- Every subcommand says it as generate does: the message, no traceback.
    assert.equal(4, #res.others)
    for _, m in ipairs(res.others) do assert.equal(res.notes[1].msg, m) end
    local msg = res.notes[1].msg
    assert.equal(4, res.notes[1].level) -- vim.log.levels.ERROR
    assert.matches("C core of aimlmusic is not built", msg)
    assert.truthy(msg:find("cd " .. plug .. " && make nvim", 1, true), msg)
    assert.truthy(msg:find("build = \"make nvim\"", 1, true), msg)
    assert.truthy(msg:find("libcurl4-openssl-dev", 1, true), msg)
    assert.truthy(msg:find("libluajit-5.1-dev", 1, true), msg)
    assert.truthy(msg:find(plug .. "/lua/aimlmusic/core.so", 1, true), msg)
    assert.is_nil(msg:find("no file", 1, true), "the searchers' list: " .. msg)
    assert.equal(0, #posts())
  end)

  it("lazy.nvim's build (make nvim) without a compiler names what to install and where a prebuilt core goes",
    function()
      local copy = copy_checkout(new_case() .. "/plug")
      local log = copy .. "/make.log"
      local ok = execute("cd " .. q(copy) .. " && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u LD_PRELOAD"
        .. " make --no-print-directory nvim CC=/nonexistent/cc >" .. q(log) .. " 2>&1")
      local out = read_file(log) or ""
      assert.is_false(ok, out)
      assert.matches("no C compiler", out)
      assert.truthy(out:find("libcurl4-openssl-dev", 1, true), out)
      assert.truthy(out:find("at " .. copy .. "/lua/aimlmusic/core.so", 1, true), out)
    end)

  it("the library alone, in a Neovim without lua-cjson: generate with a journal; "
    .. "a 3 s job's track within 6 s",
    function()
      local case = new_case()
      env.mock:reset()
      env.mock:config { duration = 3 }
      local res = run(case, [[
local H = dofile(os.getenv("AIMLMUSIC_NVIM_HELPER"))
package.path, package.cpath = "", "" -- nothing but the runtimepath: no lua-cjson
H.run(function()
  local music = require "aimlmusic"
  require("aimlmusic.uv").attach(vim.uv or vim.loop)
  local journal = vim.fn.getcwd() .. "/run/jobs.journal"
  local client = assert(music.new { journal = journal })
  local output = vim.fn.getcwd() .. "/lib.mp3"
  local t0 = vim.loop.hrtime()
  local task = music.spawn(function()
      return client:generate({ model = "minimax/music-2.0", prompt = "]] .. PROMPT .. [[",
        lyrics = "[Verse]\nStreetlights flicker, the night breeze sighs" }, { output = output })
    end)
  H.wait_for(function() return task:done() end, 20000, "the task")
  local took = (vim.loop.hrtime() - t0) / 1e9
  local st, err = task:result()
  local f = io.open(journal, "rb")
  H.finish { ok = st ~= nil, err = tostring(err), path = st and st.path, took = took,
    cjson = (pcall(require, "cjson")),
    journal = f and f:read("*a"), pending = #client:pending() }
end)
]])
    assert.is_true(res.ok, res.err)
    assert.is_false(res.cjson)
    assert.equal(case .. "/lib.mp3", res.path)
    assert.is_true(#read_file(case .. "/lib.mp3") > 0)
    assert.matches('"op":"submit"', res.journal)
    assert.matches('"op":"delivered"', res.journal)
    assert.truthy(res.journal:find('"path":"' .. case .. '/lib.mp3"', 1, true), res.journal) -- slashes as they are
    assert.equal(0, res.pending)
    print(("\n  nvim: the library alone had the 3 s job's track %.2f s after generate"):format(res.took))
    assert.is_true(res.took >= 3 and res.took < 3 + 3 * SCALE, res.took .. " s")
  end)
end)
