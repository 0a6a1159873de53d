-- The command line knows the job the moment it exists: bin/aimlmusic run as a process against
-- the mock prints the job id as soon as the submit answers, a live status line from second 0,
-- stops at once on one Ctrl-C after the submit, says a job may exist on a second Ctrl-C during
-- the POST, and shows whatever a server sends only escaped. Also client:generate's on_submit.

local socket = require "socket"
local fixture = require "support.fixture"
local util = require "support.util"
local json = require("cjson").new()

local q, read_file, write_file, execute = util.q, util.read_file, util.write_file, util.execute
local by_host = util.select_reqs
local PROMPT, LYRICS = util.PARAMS.prompt, util.PARAMS.lyrics
local gettime = socket.gettime

-- Bytes that drive a terminal or break a line, whatever their encoding: C0 controls but the
-- newline, DEL, C1 controls (raw or as UTF-8), line separators and bidirectional overrides.
local UNSAFE = {
  { "[%z\1-\9\11-\31\127]", "a control character" },
  { "\194[\128-\159]", "a C1 control" },
  { "\226\128[\168\169\170-\174]", "a line separator or bidi override" },
  { "\226\129[\166-\169]", "a bidi isolate" },
}

local function assert_safe(s, where)
  for _, u in ipairs(UNSAFE) do
    local at = s:find(u[1])
    assert(not at, ("%s has %s at byte %s: %q"):format(where, u[2], tostring(at), s))
  end
  -- No raw byte 0x80-0xff outside valid UTF-8 (a lone 0x9b is a CSI on a Latin-1 terminal).
  local i = 1
  while i <= #s do
    local c = s:byte(i)
    local len = c < 0x80 and 1 or (c >= 0xc2 and c <= 0xdf) and 2 or (c >= 0xe0 and c <= 0xef) and 3
      or (c >= 0xf0 and c <= 0xf4) and 4 or 0
    assert(len > 0, ("%s has an invalid UTF-8 byte at %d: %q"):format(where, i, s))
    i = i + len
  end
end

-- No line of s (split at CR or LF) starts with what a server tried to forge.
local function assert_no_forged_line(s, where)
  for line in (s .. "\n"):gmatch("([^\r\n]*)[\r\n]") do
    assert(not line:find("^FORGED"), where .. " has a forged line: " .. line)
  end
end

-- A hostile server's strings: a screen clear, a CRLF and a forged line, a C1 CSI, an
-- RTL override, an OSC title, and one invalid byte.
local H_ID = "e84c\27[2J\r\nFORGED id\194\155" .. "31m\226\128\174x:minimax/music-2.0"
local H_QUEUED = "queued\27]0;pwned\7"
local H_STATUS = "generating\r\nFORGED status \226\129\166"
local H_NAME, H_MSG = "Bad\27[31mName", "refused\nFORGED message \255\155"

describe("the aimlmusic command and the job it submits", function()
  local env = fixture.mock_client { duration = 0.4, client = false, dir = "private" }
  local root, n = util.repo_root(), 0

  local function case_dir()
    n = n + 1
    return util.mkdir(env.dir .. "/case" .. n)
  end

  local function environ(case)
    return "env -u AIMLAPI_KEY -u XDG_STATE_HOME -u AIMLAPI_BASE_URL AIMLAPI_BASE_URL=" .. q(env.mock.api_url)
      .. " AIMLAPI_KEY=" .. q(env.mock.key) .. " XDG_STATE_HOME=" .. q(case .. "/state") .. " HOME=" .. q(case)
  end

  local function cli_cmd(args)
    local words = {}
    for _, a in ipairs(args) do words[#words + 1] = q(a) end
    return util.LUA .. " " .. q(root .. "/bin/aimlmusic") .. " " .. table.concat(words, " ")
  end

  -- Runs the command to its end: {code, out, err, case}.
  local function run(args, case)
    case = case or case_dir()
    execute("(cd " .. q(case) .. " && " .. environ(case) .. " " .. cli_cmd(args) .. " </dev/null >stdout 2>stderr); "
      .. "echo $? >" .. q(case .. "/rc"))
    local code = tonumber((read_file(case .. "/rc") or ""):match("%d+"))
    os.remove(case .. "/rc")
    return { code = code, out = read_file(case .. "/stdout") or "", err = read_file(case .. "/stderr") or "",
             case = case }
  end

  -- Starts the command in the background; returns its pid.
  local function start(args, case)
    write_file(case .. "/run.sh", table.concat({
      "cd " .. q(case),
      environ(case) .. " " .. cli_cmd(args) .. " </dev/null >stdout 2>stderr &",
      "echo $! >pid; wait $!; echo $? >rc",
    }, "\n"))
    execute("sh " .. q(case .. "/run.sh") .. " >/dev/null 2>&1 &")
    local pid
    for _ = 1, 500 do
      pid = (read_file(case .. "/pid") or ""):match("%d+")
      if pid then return pid end
      socket.sleep(0.02)
    end
    error("the command did not start")
  end

  -- Polls fn every 20 ms for up to `limit` seconds: the time it first returned true, or nil.
  local function first_time(fn, limit)
    local deadline = gettime() + limit
    repeat
      if fn() then return gettime() end
      socket.sleep(0.02)
    until gettime() > deadline
    return nil
  end

  local function exit_code(case)
    return tonumber((read_file(case .. "/rc") or ""):match("%d+"))
  end

  local function posts()
    return by_host(env.mock:requests(), "api", "POST")
  end

  local function gen_args(out, ...)
    local a = { "generate", "-p", PROMPT, "-l", LYRICS, "-o", out }
    for _, x in ipairs({ ... }) do a[#a + 1] = x end
    return a
  end

  -- What this machine takes, now, to start the command and see it exit: the slack every bound
  -- on time below adds to its one second.
  local function baseline()
    local t0 = gettime()
    assert.is_true(execute(cli_cmd({ "--version" }) .. " >/dev/null 2>&1"))
    return gettime() - t0
  end

  -- 30 s jobs, as the service's are in the minute: the id must come long before the job ends,
  -- and the Ctrl-C 2 s in finds it running. Once the command has exited, the mock ends the job
  -- (POST /_mock/finish) so that resume does not wait out the other 28 s.
  local JOB_SECONDS = 30

  describe("generate, against 30 s jobs", function()
    it("prints the id within 1 s of the submit's answer, exits 130 within 1 s of one Ctrl-C 2 s later, "
      .. "and resume finishes the job with one POST in all", function()
      env.mock:config { duration = JOB_SECONDS }
      local slack = baseline()
      local case = case_dir()
      local pid = start(gen_args("song.mp3"), case)
      local job
      local answered = first_time(function()
        job = env.mock:jobs()[1]
        return job ~= nil
      end, 10 + slack)
      assert(answered, "the submit never reached the mock")
      local seen = first_time(function()
        return (read_file(case .. "/stderr") or ""):find(job.id, 1, true) ~= nil
      end, 10 + slack)
      assert(seen, "no job id on stderr within " .. (10 + slack) .. " s of the submit's answer")
      -- job.created: the mock's wall clock when it made the job, just before it answered.
      assert.is_true(seen - job.created < 1 + slack,
        ("the id came %.2f s after the answer (bound %.2f s)"):format(seen - job.created, 1 + slack))
      socket.sleep(math.max(0, job.created + 2 - gettime()))
      local sent = gettime()
      execute("kill -INT " .. pid)
      assert.is_true(sent - job.created < JOB_SECONDS - 1,
        ("the Ctrl-C came %.2f s into a %d s job: too late to find it running"):format(sent - job.created, JOB_SECONDS))
      local gone = first_time(function() return exit_code(case) ~= nil end, 10 + slack)
      assert(gone, "the command did not exit within " .. (10 + slack) .. " s of one Ctrl-C")
      assert.is_true(gone - sent < 1 + slack,
        ("it exited %.2f s after the Ctrl-C (bound %.2f s)"):format(gone - sent, 1 + slack))
      assert.equal(130, exit_code(case))
      local err = read_file(case .. "/stderr")
      assert.matches("aimlmusic resume", err)
      assert.matches("aimlmusic wait " .. job.id:gsub("%p", "%%%0") .. " %-o song%.mp3", err)
      assert.equal(job.id, (read_file(case .. "/stdout") or ""):match("[^\n]+"))
      assert.is_nil(err:find("\27", 1, true), "an escape sequence on a stderr that is not a terminal")
      assert.is_true(env.mock:jobs()[1].status ~= "completed", "the job ended before resume ran")
      env.mock:finish(job.id)
      local r = run({ "resume", "--interval", "0.5" }, case)
      assert.equal(0, r.code, r.err)
      assert.is_true(#read_file(case .. "/song.mp3") > 0)
      assert.equal(1, #posts())
    end)
  end)

  describe("a second Ctrl-C while the POST is in flight", function()
    -- #posix: needs a second SIGINT to end a blocking wait: Windows' Ctrl-C handler runs on a thread of its own
    it("exits 130 saying the job may exist, with what finds it, never that none does #posix", function()
      -- The answer comes 8 s after the POST: the second Ctrl-C does not wait for it.
      env.mock:fault { method = "POST", delay_ms = 8000 }
      local case = case_dir()
      local pid = start(gen_args("song.mp3", "--no-journal"), case)
      assert(first_time(function() return #posts() > 0 end, 20), "the POST never came")
      execute("kill -INT " .. pid)
      assert(first_time(function() return (read_file(case .. "/stderr") or ""):find("Ctrl%-C again") end, 5),
        "the first Ctrl-C was not acknowledged")
      assert.is_nil(exit_code(case), "one Ctrl-C during the POST did not wait for its answer")
      execute("kill -INT " .. pid)
      assert(first_time(function() return exit_code(case) ~= nil end, 5), "the second Ctrl-C did not stop it")
      assert.equal(130, exit_code(case))
      local err = read_file(case .. "/stderr")
      assert.matches("may exist", err)
      assert.is_nil(err:find("before a job was submitted", 1, true))
      assert.is_nil(err:lower():find("no job", 1, true))
      assert.matches("minimax/music%-2%.0", err)
      assert.matches(env.mock.api_url:gsub("%p", "%%%0"), err)
      assert.matches("sent %d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ", err)
      assert.matches("no journal keeps it", err)
      assert.equal("", read_file(case .. "/stdout"))
      -- And it does: the server answered after the command had gone.
      assert(first_time(function() return #env.mock:jobs() == 1 end, 15), "the job never came to be")
    end)

    -- #posix: needs a second SIGINT to end a blocking wait: Windows' Ctrl-C handler runs on a thread of its own
    it("says so in --json too, with the model and the base URL #posix", function()
      env.mock:fault { method = "POST", delay_ms = 3000 }
      local case = case_dir()
      local pid = start(gen_args("song.mp3", "--json"), case)
      assert(first_time(function() return #posts() > 0 end, 20), "the POST never came")
      execute("kill -INT " .. pid)
      socket.sleep(0.3)
      execute("kill -INT " .. pid)
      assert(first_time(function() return exit_code(case) ~= nil end, 10), "the second Ctrl-C did not stop it")
      assert.equal(130, exit_code(case))
      local e = json.decode(read_file(case .. "/stdout")).error
      assert.equal("interrupted", e.kind)
      assert.matches("may exist", e.message)
      assert.equal("minimax/music-2.0", e.model)
      assert.equal(env.mock.api_url, e.base_url)
      assert.matches("aimlmusic resume", e.message) -- the journal may have it by then
    end)
  end)

  describe("a submit that fails as a job may still exist", function()
    it("says so, with the request id that finds it", function()
      env.mock:fault { method = "POST", status = 500 }
      local r = run(gen_args("song.mp3", "--no-journal"))
      assert.equal(1, r.code, r.err)
      assert.equal(1, #posts()) -- a 5xx is never repeated
      assert.matches("may exist", r.err)
      assert.matches("minimax/music%-2%.0, sent [%dT:Z-]+ to " .. env.mock.api_url:gsub("%p", "%%%0")
        .. ", request_id %x+%-", r.err)
      env.mock:fault { method = "POST", status = 503 }
      r = run(gen_args("song.mp3", "--json"))
      local e = json.decode(r.out).error
      assert.equal("server", e.kind)
      assert.matches("may exist", e.hint)
      env.mock:fault { method = "POST", status = 400, json = { statusCode = 400, message = "prompt is bad" } }
      r = run(gen_args("song.mp3", "--no-journal"))
      assert.equal(2, r.code, r.err)
      assert.is_nil(r.err:find("may exist", 1, true)) -- a refusal made no job
    end)
  end)

  describe("on a terminal", function()
    -- #posix: needs script(1), a pseudo-terminal
    it("shows the id and a status line whose elapsed time ticks from second 0 #posix", function()
      env.mock:config { duration = 30 }
      local case = case_dir()
      local preload = os.getenv("LD_PRELOAD")
      local cmd = "cd " .. q(case) .. " && " .. environ(case) .. (preload and " LD_PRELOAD=" .. q(preload) or "")
        .. " " .. cli_cmd(gen_args("song.mp3", "--timeout", "2.5", "--interval", "10"))
      local log = case .. "/typescript"
      execute("env -u LD_PRELOAD script -qfec " .. q(cmd) .. " /dev/null </dev/null >" .. q(log) .. " 2>&1")
      local s = read_file(log) or ""
      local id = env.mock:jobs()[1].id
      assert.matches("submitting · 0s", s)
      assert.matches("job " .. id:gsub("%p", "%%%0") .. " submitted %(queued%)", s)
      for sec = 1, 2 do assert.matches("\r\27%[Kqueued · " .. sec .. "s · " .. id:gsub("%p", "%%%0"), s) end
      assert.equal(1, #posts())
      -- The ticks came without polls: with polls 10 s apart, at most the first and the one at
      -- the 2.5 s deadline were made, against three ticks.
      local gets = by_host(env.mock:requests(), "api", "GET")
      assert.is_true(#gets <= 2, #gets .. " polls: " .. s)
    end)
  end)

  describe("what a hostile server sends", function()
    local function hostile_faults()
      env.mock:fault { method = "POST", json = { id = H_ID, status = H_QUEUED } }
      env.mock:fault { method = "GET", json = { id = H_ID, status = H_STATUS } }
      env.mock:fault { method = "GET", json = { id = H_ID, status = "error", error = { name = H_NAME, message = H_MSG } } }
    end

    it("comes out escaped on plain stderr and stdout: no escape codes, no forged line", function()
      hostile_faults()
      local r = run(gen_args("song.mp3", "--interval", "0.1"))
      assert.equal(4, r.code, r.err)
      for where, s in pairs({ stderr = r.err, stdout = r.out }) do
        assert_safe(s, where)
        assert_no_forged_line(s, where)
      end
      assert.matches("FORGED id", r.err) -- shown, escaped
      assert.matches("\\x1b%[2J\\r\\nFORGED id", r.out)
    end)

    it("keeps --json valid JSON with the same values, and nothing unsafe in its bytes", function()
      hostile_faults()
      local r = run(gen_args("song.mp3", "--interval", "0.1", "--json"))
      assert.equal(4, r.code, r.err)
      assert_safe(r.out, "stdout")
      assert_safe(r.err, "stderr")
      assert_no_forged_line(r.out, "stdout")
      assert.equal(1, select(2, r.out:gsub("\n", "")))
      local e = json.decode(r.out).error
      assert.equal(H_ID, e.id)
      assert.equal(H_NAME, e.code)
      assert.equal("refused\nFORGED message \\xff\\x9b", e.message) -- invalid bytes: shown as text
    end)

    -- #posix: needs script(1), a pseudo-terminal
    it("comes out escaped from status, and on a terminal's status line #posix", function()
      env.mock:fault { method = "GET", json = { id = H_ID, status = H_STATUS, audio_file = { url = "https://x/\27[2J" },
        error = { name = H_NAME, message = H_MSG } } }
      local r = run({ "status", "x:minimax/music-2.0" })
      assert.equal(0, r.code, r.err)
      assert_safe(r.out, "stdout")
      assert_no_forged_line(r.out, "stdout")
      assert.matches("url +https://x/\\x1b%[2J", r.out)

      hostile_faults()
      local case = case_dir()
      local cmd = "cd " .. q(case) .. " && " .. environ(case) .. " " .. cli_cmd(gen_args("song.mp3", "--interval", "0.3"))
      execute("env -u LD_PRELOAD script -qfec " .. q(cmd) .. " /dev/null </dev/null >" .. q(case .. "/ts") .. " 2>&1")
      local s = read_file(case .. "/ts") or ""
      -- The terminal's own: \r\27[K before each redraw, and \r\n that script makes of \n.
      local bare = s:gsub("\r\27%[K", ""):gsub("\r\n", "\n")
      assert_safe(bare, "the terminal")
      assert_no_forged_line(s, "the terminal")
      assert.matches("queued\\x1b%]0;pwned\\x07 · %ds · e84c\\x1b", s)
    end)
  end)

  describe("a path with a NUL byte", function()
    -- No shell can pass a NUL: cli.main is called with one, in a process of its own.
    local function main_with(args, case)
      local parts = {}
      for _, a in ipairs(args) do parts[#parts + 1] = ("%q"):format(a) end
      local script = "package.path = " .. ("%q"):format(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;")
        .. " .. package.path\n"
        .. "local runtime = rawget(_G, 'jit') and 'luajit' or 'lua' .. _VERSION:match('%d+%.%d+')\n"
        .. "package.cpath = package.cpath .. ';' .. " .. ("%q"):format(root .. "/build/") .. " .. runtime .. '/?.so'\n"
        .. "os.exit(require('aimlmusic.cli').main({" .. table.concat(parts, ", ") .. "}))\n"
      write_file(case .. "/main.lua", script)
      return script
    end

    it("is refused with a clear error in every path argument, before anything is sent", function()
      local cases = {
        { "download", "x:minimax/music-2.0", "-o", "a\0.mp3" },
        { "generate", "-p", PROMPT, "-l", LYRICS, "-o", "a\0.mp3" },
        { "generate", "-p", PROMPT, "-l", LYRICS, "-o", "b.mp3", "--journal", "a\0.journal" },
        { "generate", "-p", PROMPT, "--lyrics-file", "a\0.txt", "-o", "b.mp3" },
        { "submit", "-p", PROMPT, "-l", LYRICS, "--key-file", "a\0.key" },
        { "wait", "x:minimax/music-2.0", "-o", "a\0.mp3" },
      }
      for _, args in ipairs(cases) do
        local case = case_dir()
        write_file(case .. "/a", "here before")
        local script = main_with(args, case)
        local r = {}
        execute("cd " .. q(case) .. " && " .. environ(case) .. " " .. util.LUA .. " main.lua </dev/null >stdout 2>stderr;"
          .. " echo $? >rc")
        r.code, r.err = exit_code(case), read_file(case .. "/stderr") or ""
        assert.equal(2, r.code, script .. r.err)
        assert.matches("NUL byte", r.err)
        assert.equal("here before", read_file(case .. "/a"))
        assert.same({ "a", "main.lua", "rc", "stderr", "stdout" }, util.ls(case))
      end
      assert.equal(0, #env.mock:requests())
    end)
  end)
end)

describe("client:generate's on_submit", function()
  local env = fixture.mock_client { duration = 0.3 }

  it("is called once with the job as soon as the submit answers, before any poll", function()
    local music = require "aimlmusic"
    local client = env.new_client({ journal = env.dir .. "/a.journal" }, music)
    local calls, seen = {}, nil
    local st = assert(client:generate(util.PARAMS, {
      on_submit = function(job)
        calls[#calls + 1] = job
        seen = env.mock:requests()
        assert.equal(job.id, client:pending()[1].id) -- journaled already
      end,
    }))
    assert.equal(1, #calls)
    assert.equal(st.id, calls[1].id)
    assert.equal("queued", calls[1].status)
    assert.equal(util.PARAMS.model, calls[1].model)
    assert.equal(1, #seen)
    assert.equal("POST", seen[1].method)
  end)

  it("that raises ends generate with its error; the job stays in the journal for resume", function()
    local music = require "aimlmusic"
    local client = env.new_client({ journal = env.dir .. "/b.journal" }, music)
    local id
    local ok, e = pcall(client.generate, client, util.PARAMS, {
      on_submit = function(job)
        id = job.id
        error("the caller's own failure", 0)
      end,
    })
    assert.is_false(ok)
    assert.equal("the caller's own failure", e)
    assert.equal(1, #env.mock:requests())
    assert.equal(id, client:pending()[1].id)
    local results = client:resume()
    assert.equal(id, results[1].id)
    assert.equal("completed", results[1].st.status)
    assert.equal(1, #by_host(env.mock:requests(), "api", "POST"))
  end)
end)
