-- bin/aimlmusic run as a process against the mock server: every subcommand, its exit code,
-- --json, lyrics from stdin, --set typed by the model table, the journal and resume after
-- Ctrl-C (SIGINT), plain lines when stderr is a file and a live bar under a pseudo-terminal.

local fixture = require "support.fixture"
local util = require "support.util"
local json = require("cjson").new()

local q, read_file, write_file, execute = util.q, util.read_file, util.write_file, util.execute
local by_host = util.select_reqs
local PROMPT, LYRICS = util.PARAMS.prompt, util.PARAMS.lyrics

describe("the aimlmusic command", function()
  local env = fixture.mock_client { duration = 0.2, client = false, dir = "private" }
  local root, n = util.repo_root(), 0

  local function case_dir()
    n = n + 1
    return util.mkdir(env.dir .. "/case" .. n)
  end

  -- The environment every run gets: the mock, its key, a private state directory.
  local function environ(case, extra, unset)
    local vars = {
      AIMLAPI_BASE_URL = env.mock.api_url, AIMLAPI_KEY = env.mock.key,
      XDG_STATE_HOME = case .. "/state", HOME = case .. "/home",
    }
    for k, v in pairs(extra or {}) do vars[k] = v end
    local parts = { "env -u AIMLAPI_KEY -u XDG_STATE_HOME -u AIMLAPI_BASE_URL" }
    for _, k in ipairs(unset or {}) do vars[k] = nil end
    for k, v in pairs(vars) do parts[#parts + 1] = k .. "=" .. q(v) end
    return table.concat(parts, " ")
  end

  local function cli_cmd(args)
    local words = {}
    for _, a in ipairs(args) do words[#words + 1] = q(a) end
    return util.LUA .. " " .. q(root .. "/bin/aimlmusic") .. " " .. table.concat(words, " ")
  end

  -- Runs the command; returns {code, out, err}. opts: env (extra variables), stdin (text),
  -- case (directory; default a new one), unset (variables to drop).
  local function run(args, opts)
    opts = opts or {}
    local case = opts.case or case_dir()
    local out, err = case .. "/stdout", case .. "/stderr"
    local input = "</dev/null"
    if opts.stdin then
      write_file(case .. "/stdin", opts.stdin)
      input = "<" .. q(case .. "/stdin")
    end
    local e = environ(case, opts.env, opts.unset)
    -- The shell reports the exit status ($?): os.execute's result differs across Lua versions.
    execute("(cd " .. q(case) .. " && " .. e .. " " .. cli_cmd(args) .. " " .. input
      .. " >" .. q(out) .. " 2>" .. q(err) .. "); echo $? >" .. q(case .. "/rc"))
    local code = tonumber((read_file(case .. "/rc") or ""):match("%d+"))
    os.remove(case .. "/rc")
    return { code = code, out = read_file(out) or "", err = read_file(err) or "", case = case }
  end

  local function last_line(s)
    local last
    for line in s:gmatch("[^\r\n]+") do last = line end
    return last
  end

  local function posts()
    return by_host(env.mock:requests(), "api", "POST")
  end

  local function gen_args(out, ...)
    local a = { "generate", "-p", PROMPT, "-l", LYRICS, "-o", out, "--interval", "0.1" }
    for _, x in ipairs({ ... }) do a[#a + 1] = x end
    return a
  end

  local function journal_lines(case)
    local s = read_file(case .. "/state/aimlmusic/jobs.journal") or ""
    local recs = {}
    for line in s:gmatch("[^\n]+") do recs[#recs + 1] = json.decode(line) end
    return recs
  end

  describe("--help", function()
    it("describes the command and each subcommand, exit 0", function()
      local r = run({ "--help" })
      assert.equal(0, r.code)
      for _, c in ipairs({ "generate", "submit", "status", "wait", "download", "resume", "models", "validate", "mock" }) do
        assert.matches(c, r.out)
        local s = run({ c, "--help" })
        assert.equal(0, s.code, c .. " --help: " .. s.err)
        assert.matches("usage: aimlmusic " .. c, s.out)
      end
    end)

    it("refuses -o - and an output whose directory is missing before sending; makes output-dir's", function()
      for _, o in ipairs({ "-", "nodir/x.mp3" }) do
        local r = run(gen_args(o))
        assert.equal(2, r.code, r.err)
        assert.is_nil(r.err:find("submitting", 1, true), r.err)
      end
      assert.matches("cannot go to stdout", run(gen_args("-")).err)
      assert.equal(0, #posts())
      local case = case_dir()
      local r = run(gen_args("x.mp3", "--output-dir", case .. "/Music/aimlmusic"), { case = case })
      assert.equal(0, r.code, r.err)
      assert.truthy(read_file(case .. "/Music/aimlmusic/x.mp3"))
    end)

    it("exits 2 on no command, an unknown command or option", function()
      local none = run({})
      assert.equal(2, none.code)
      assert.equal("", none.out) -- a usage error: the usage on stderr
      assert.matches("usage: aimlmusic", none.err)
      assert.equal(2, run({ "dance" }).code)
      for _, argv in ipairs({ { "help", "genrate" }, { "--help", "genrate" } }) do
        local typo = run(argv)
        assert.equal(2, typo.code)
        assert.equal("", typo.out)
        assert.matches("no help for genrate %(did you mean generate%?%)", typo.err)
      end
      local r = run({ "generate", "--colour", "red" })
      assert.equal(2, r.code)
      assert.matches("unknown option %-%-colour", r.err)
    end)

    it("refuses the key as a flag, saying why", function()
      local r = run({ "generate", "--key", "secret", "-p", PROMPT, "-l", LYRICS, "-o", "x.mp3" })
      assert.equal(2, r.code)
      assert.matches("AIMLAPI_KEY", r.err)
      assert.matches("key%-file", r.err)
      assert.equal(0, #env.mock:requests())
    end)
  end)

  describe("generate", function()
    it("submits, waits and saves the track; plain lines on stderr when it is a file", function()
      local case = case_dir()
      local r = run(gen_args("song.mp3"), { case = case })
      assert.equal(0, r.code, r.err)
      assert.equal(case .. "/song.mp3", case .. "/" .. last_line(r.out))
      local saved = read_file(case .. "/song.mp3")
      assert.is_truthy(saved and #saved > 0)
      local cdn = by_host(env.mock:requests(), "cdn")
      assert.equal(1, #cdn)
      assert.equal(1, #posts())
      assert.matches("completed", r.err)
      assert.is_nil(r.err:find("\27", 1, true), "an escape sequence on a stderr that is not a terminal")
      -- (Windows ends lines with \r\n in a text stream: only a \r that starts the line over counts.)
      assert.is_nil(r.err:find("\r[^\n]"), "a carriage return on a stderr that is not a terminal")
      -- The journal has the job, its proof of delivery (before the link), marked delivered.
      local recs = journal_lines(case)
      assert.equal(3, #recs)
      assert.equal("submit", recs[1].op)
      assert.equal("commit", recs[2].op)
      assert.equal("delivered", recs[3].op)
      assert.equal(recs[1].id, recs[2].id)
      assert.equal(recs[1].id, recs[3].id)
    end)

    it("--json prints exactly one JSON object: the status without raw, plus path", function()
      local case = case_dir()
      local r = run(gen_args("song.mp3", "--json"), { case = case })
      assert.equal(0, r.code, r.err)
      local o = json.decode(r.out)
      assert.equal("completed", o.status)
      assert.equal("song.mp3", o.path)
      assert.is_nil(o.raw)
      assert.is_string(o.id)
      assert.is_true(o.bytes > 0)
      assert.equal(1, select(2, r.out:gsub("\n", "")))
    end)

    it("reads the lyrics from standard input with --lyrics-file -", function()
      local r = run({ "generate", "-p", PROMPT, "--lyrics-file", "-", "-o", "a.mp3", "--interval", "0.1" },
        { stdin = LYRICS .. "\n" })
      assert.equal(0, r.code, r.err)
      local body = json.decode(posts()[1].body)
      assert.equal(LYRICS, body.lyrics)
      assert.equal(PROMPT, body.prompt)
    end)

    it("types --set values from the model table, dotted for nested fields", function()
      local r = run(gen_args("a.wav", "--set", "audio_setting.format=wav", "--set", "audio_setting.sample_rate=16000",
        "--json"))
      assert.equal(0, r.code, r.err)
      local raw = posts()[1].body
      local body = json.decode(raw)
      assert.equal("wav", body.audio_setting.format)
      -- music-2.0's own file spells the rate audio_sample_rate.
      assert.equal(16000, body.audio_setting.audio_sample_rate)
      assert.matches('"audio_sample_rate":16000[,}]', raw) -- a number, not "16000"
      assert.equal("RIFF", read_file(r.case .. "/a.wav"):sub(1, 4))
    end)

    it("refuses an unknown field or a value of the wrong type with exit 2, sending nothing", function()
      local r = run(gen_args("a.mp3", "--set", "tempo=120"))
      assert.equal(2, r.code)
      assert.matches("no field tempo", r.err)
      r = run(gen_args("a.mp3", "--set", "audio_setting.sample_rate=fast"))
      assert.equal(2, r.code)
      assert.matches("integer", r.err)
      r = run(gen_args("a.mp3", "--set", "audio_setting.format=flac", "--json"))
      assert.equal(2, r.code)
      assert.equal("validation", json.decode(r.out).error.kind)
      -- an object given as JSON that is not: where it went wrong
      r = run(gen_args("a.mp3", "--set", 'audio_setting={"format":"wav",}'))
      assert.equal(2, r.code)
      assert.matches("audio_setting is an object: [^\n]* %(not JSON: expected a string key at byte 17%)", r.err)
      assert.equal(0, #env.mock:requests())
    end)

    it("never overwrites an existing file unless told, and pays for nothing then", function()
      local case = case_dir()
      write_file(case .. "/a.mp3", "earlier")
      local r = run(gen_args("a.mp3"), { case = case })
      assert.equal(2, r.code)
      assert.equal("earlier", read_file(case .. "/a.mp3"))
      assert.equal(0, #posts())
      r = run(gen_args("a.mp3", "--overwrite"), { case = case })
      assert.equal(0, r.code, r.err)
      assert.is_true(#read_file(case .. "/a.mp3") > 7)
    end)
  end)

  describe("exit codes", function()
    it("3 for a wrong key, and for no credits", function()
      local r = run(gen_args("a.mp3", "--json"), { env = { AIMLAPI_KEY = "wrong-key" } })
      assert.equal(3, r.code)
      assert.equal("auth", json.decode(r.out).error.kind)
      env.mock:fault { method = "POST", status = 403, json = { statusCode = 403, message = "Insufficient credits" } }
      r = run(gen_args("a.mp3", "--json"))
      assert.equal(3, r.code)
      assert.equal("credits", json.decode(r.out).error.kind)
    end)

    it("3 with the key from --key-file when it is wrong, 0 when it is right", function()
      local case = case_dir()
      write_file(case .. "/key", "wrong-key\n")
      local r = run(gen_args("a.mp3", "--key-file", "key"), { case = case, unset = { "AIMLAPI_KEY" } })
      assert.equal(3, r.code)
      write_file(case .. "/key", env.mock.key .. "\n")
      r = run(gen_args("a.mp3", "--key-file", "key"), { case = case, env = { AIMLAPI_KEY = "wrong-key" } })
      assert.equal(0, r.code, r.err)
    end)

    it("4 when the job fails", function()
      env.mock:fault { job_error = { name = "ContentPolicy", message = "refused" } }
      local r = run(gen_args("a.mp3", "--json"))
      assert.equal(4, r.code)
      local e = json.decode(r.out).error
      assert.equal("job_failed", e.kind)
      assert.equal("ContentPolicy", e.code)
    end)

    it("5 on timeout, printing the id; wait ID goes on and saves the track", function()
      env.mock:config { duration = 1.5 }
      local case = case_dir()
      local r = run(gen_args("a.mp3", "--timeout", "0.3"), { case = case })
      assert.equal(5, r.code, r.err)
      local id = last_line(r.out)
      assert.equal(env.mock:jobs()[1].id, id)
      assert.matches("aimlmusic wait", r.err)
      r = run({ "wait", id, "-o", "a.mp3", "--interval", "0.1" }, { case = case })
      assert.equal(0, r.code, r.err)
      assert.is_true(#read_file(case .. "/a.mp3") > 0)
      assert.equal(1, #posts())
      -- The delivered job is done in the journal: resume has nothing left.
      r = run({ "resume", "--json" }, { case = case })
      assert.equal(0, r.code)
      assert.same({}, json.decode(r.out).jobs)
    end)

    it("1 for anything else (nothing listens)", function()
      -- one retry, not the default three: the same way to the exit code, without 2 s of backoff
      local r = run(gen_args("a.mp3", "--json", "--retries", "1"),
        { env = { AIMLAPI_BASE_URL = "http://127.0.0.1:" .. util.free_port() } })
      assert.equal(1, r.code)
      assert.equal("network", json.decode(r.out).error.kind)
    end)
  end)

  describe("submit, status, wait, download", function()
    it("work on one job by its id", function()
      local case = case_dir()
      local r = run({ "submit", "-p", PROMPT, "-l", LYRICS }, { case = case })
      assert.equal(0, r.code, r.err)
      local id = last_line(r.out)
      assert.equal(env.mock:jobs()[1].id, id)
      r = run({ "status", id, "--json" }, { case = case })
      assert.equal(0, r.code, r.err)
      local st = json.decode(r.out)
      assert.equal(id, st.id)
      assert.is_nil(st.raw)
      r = run({ "status", id }, { case = case })
      assert.matches("status +%a+", r.out)
      r = run({ "wait", id, "--json", "--interval", "0.1" }, { case = case })
      assert.equal(0, r.code, r.err)
      assert.equal("completed", json.decode(r.out).status)
      r = run({ "download", id, "-o", "b.mp3", "--json" }, { case = case })
      assert.equal(0, r.code, r.err)
      local o = json.decode(r.out)
      assert.equal("b.mp3", o.path)
      assert.equal(#read_file(case .. "/b.mp3"), o.bytes)
      assert.equal(1, #posts())
    end)

    it("status of an unknown id exits 1 with kind not_found", function()
      local r = run({ "status", "nope:minimax/music-2.0", "--json" })
      assert.equal(1, r.code)
      assert.equal("not_found", json.decode(r.out).error.kind)
    end)

    it("submit -o records the output, and resume downloads it there", function()
      local case = case_dir()
      local r = run({ "submit", "-p", PROMPT, "-l", LYRICS, "-o", "later.mp3" }, { case = case })
      assert.equal(0, r.code, r.err)
      r = run({ "resume", "--interval", "0.1" }, { case = case })
      assert.equal(0, r.code, r.err)
      assert.is_true(#read_file(case .. "/later.mp3") > 0)
      assert.equal(1, #posts())
    end)

    it("submit -o refuses an existing file before paying; resume keeps one that is not the job's", function()
      local case = case_dir()
      write_file(case .. "/taken.mp3", "an earlier track")
      local r = run({ "submit", "-p", PROMPT, "-l", LYRICS, "-o", "taken.mp3" }, { case = case })
      assert.not_equal(0, r.code)
      assert.matches("exists", r.err)
      assert.equal(0, #posts())
      r = run({ "submit", "-p", PROMPT, "-l", LYRICS, "-o", "later.mp3" }, { case = case })
      assert.equal(0, r.code, r.err)
      write_file(case .. "/later.mp3", "not the job's track")
      r = run({ "resume", "--interval", "0.1" }, { case = case })
      assert.not_equal(0, r.code)
      assert.matches("EEXIST", r.err)
      assert.equal("not the job's track", read_file(case .. "/later.mp3"))
      r = run({ "resume", "--interval", "0.1", "--overwrite" }, { case = case })
      assert.equal(0, r.code, r.err)
      assert.not_equal("not the job's track", read_file(case .. "/later.mp3"))
      assert.equal(1, #posts())
    end)

    it("--no-journal keeps no journal; --journal PATH keeps it there", function()
      local case = case_dir()
      local r = run(gen_args("a.mp3", "--no-journal"), { case = case })
      assert.equal(0, r.code, r.err)
      assert.is_nil(read_file(case .. "/state/aimlmusic/jobs.journal"))
      r = run(gen_args("b.mp3", "--journal", "j/my.journal"), { case = case })
      assert.equal(0, r.code, r.err)
      assert.matches('"op":"delivered"', read_file(case .. "/j/my.journal"))
    end)

    -- #posix: needs HOME: Windows has none (spec/windows_cli_spec.lua covers %LOCALAPPDATA%)
    it("the journal defaults to ~/.local/state without XDG_STATE_HOME #posix", function()
      local case = case_dir()
      local r = run(gen_args("a.mp3"), { case = case, unset = { "XDG_STATE_HOME" } })
      assert.equal(0, r.code, r.err)
      assert.matches('"op":"submit"', read_file(case .. "/home/.local/state/aimlmusic/jobs.journal"))
    end)
  end)

  describe("validate and models", function()
    it("validate needs no network: 0 when valid, 2 listing every problem", function()
      local r = run({ "validate", "-p", PROMPT, "-l", LYRICS }, { env = { AIMLAPI_BASE_URL = "http://127.0.0.1:1" } })
      assert.equal(0, r.code, r.err)
      r = run({ "validate", "-p", "short", "-l", "x", "--json" })
      assert.equal(2, r.code)
      local e = json.decode(r.out).error
      assert.equal("validation", e.kind)
      assert.equal(2, #e.fields)
      assert.equal(0, #env.mock:requests())
    end)

    it("models lists every model of the table, as text and as JSON", function()
      local models = require "aimlmusic.models"
      local r = run({ "models" })
      assert.equal(0, r.code)
      local o = json.decode(run({ "models", "--json" }).out)
      for name, m in pairs(models) do
        assert.matches(name:gsub("%p", "%%%0"), r.out)
        assert.is_table(o.models[name])
        assert.equal(#m.fields, #o.models[name].fields)
      end
    end)
  end)

  describe("mock", function()
    -- #posix: needs luv: the mock command runs on the specs' interpreter
    it("runs the mock server, which a generate then talks to #posix", function()
      local case = case_dir()
      local pf = case .. "/ports"
      execute(cli_cmd({ "mock", "--port", "0", "--port-file", pf, "--duration", "0.2", "--max-lifetime", "30" })
        .. " </dev/null >/dev/null 2>&1 & echo $! >" .. q(case .. "/mock.pid"))
      for _ = 1, 100 do
        if (read_file(pf) or ""):find(" ") then break end
        execute("sleep 0.1")
      end
      local api = assert((read_file(pf) or ""):match("^(%S+)"), "the mock wrote no port file")
      local r = run(gen_args("a.mp3"), { case = case, env = { AIMLAPI_BASE_URL = api, AIMLAPI_KEY = "test-key" } })
      execute("kill " .. read_file(case .. "/mock.pid"))
      assert.equal(0, r.code, r.err)
      assert.is_true(#read_file(case .. "/a.mp3") > 0)
    end)
  end)

  describe("Ctrl-C", function()
    -- Starts the command in the background; returns the case, the pid and a function that
    -- waits for its exit code.
    local function start(args, case)
      local script = table.concat({
        "cd " .. q(case),
        environ(case) .. " " .. cli_cmd(args) .. " </dev/null >stdout 2>stderr &",
        "echo $! >pid; wait $!; echo $? >rc",
      }, "\n")
      write_file(case .. "/run.sh", script)
      execute("sh " .. q(case .. "/run.sh") .. " >/dev/null 2>&1 &")
      local pid
      for _ = 1, 100 do
        pid = read_file(case .. "/pid")
        if pid and pid:match("%d") then break end
        execute("sleep 0.05")
      end
      local function wait_exit()
        for _ = 1, 200 do
          local rc = read_file(case .. "/rc")
          if rc and rc:match("%d") then return tonumber(rc:match("%d+")) end
          execute("sleep 0.05")
        end
        error("the command did not exit after SIGINT")
      end
      return pid:match("%d+"), wait_exit
    end

    local function until_true(fn, what)
      for _ = 1, 200 do
        if fn() then return end
        execute("sleep 0.05")
      end
      error("timed out waiting for " .. what)
    end

    it("while waiting prints the id; resume finishes the job without a second POST", function()
      env.mock:config { duration = 1.5 }
      local case = case_dir()
      local pid, wait_exit = start(gen_args("song.mp3"), case)
      until_true(function() return (read_file(case .. "/stderr") or ""):find("queued", 1, true) end, "queued")
      execute("kill -INT " .. pid)
      assert.equal(130, wait_exit())
      local id = env.mock:jobs()[1].id
      assert.equal(id, last_line(read_file(case .. "/stdout")))
      assert.matches("aimlmusic resume", read_file(case .. "/stderr"))
      assert.is_nil(read_file(case .. "/song.mp3"))
      local r = run({ "resume", "--interval", "0.1" }, { case = case })
      assert.equal(0, r.code, r.err)
      assert.is_true(#read_file(case .. "/song.mp3") > 0)
      assert.equal(1, #posts())
    end)

    it("during the submit is held until the job exists and is in the journal", function()
      env.mock:fault { method = "POST", delay_ms = 1500 }
      env.mock:config { duration = 0.5 }
      local case = case_dir()
      local pid, wait_exit = start(gen_args("song.mp3"), case)
      until_true(function() return #posts() > 0 end, "the POST")
      execute("kill -INT " .. pid)
      local at_kill = read_file(case .. "/stderr") or ""
      assert.equal(130, wait_exit())
      assert.is_nil(at_kill:find("queued", 1, true), "the submit had returned before the Ctrl-C")
      local id = env.mock:jobs()[1].id
      assert.equal(id, last_line(read_file(case .. "/stdout")))
      assert.equal(id, journal_lines(case)[1].id)
      local r = run({ "resume", "--interval", "0.1" }, { case = case })
      assert.equal(0, r.code, r.err)
      assert.is_true(#read_file(case .. "/song.mp3") > 0)
      assert.equal(1, #posts())
    end)

    -- A terminal's Ctrl-C reaches the whole process group: here the Lua first on PATH has no
    -- core, so the script ran itself again under the one that has, and both get the signal.
    -- #posix: needs setsid, a signal to a process group and a symbolic link
    it("exits 130 from a script that ran itself again under the Lua its core is built for #posix", function()
      env.mock:config { duration = 30 }
      local case = case_dir()
      local runtime = util.LUA == "luajit" and "luajit" or util.LUA
      local other = runtime == "lua5.1" and "lua5.4" or "lua5.1"
      local tree = util.mkdir(case .. "/tree")
      util.mkdir(tree .. "/bin")
      util.mkdir(tree .. "/build")
      assert(execute(("cp %s %s/bin/ && ln -s %s %s/lua && ln -s %s %s/build/%s"):format(q(root .. "/bin/aimlmusic"),
        q(tree), q(root .. "/lua"), q(tree), q(root .. "/build/" .. runtime), q(tree), runtime)))
      local words = {}
      for _, a in ipairs(gen_args("song.mp3")) do words[#words + 1] = q(a) end
      -- In a session of its own, whose id (the group's) it writes first.
      write_file(case .. "/cmd.sh", 'echo $$ >pid\nexec ' .. other .. " " .. q(tree .. "/bin/aimlmusic") .. " "
        .. table.concat(words, " ") .. "\n")
      write_file(case .. "/run.sh", table.concat({
        "cd " .. q(case),
        environ(case, nil, nil) .. " setsid -w sh cmd.sh </dev/null >stdout 2>stderr",
        "echo $? >rc",
      }, "\n"))
      execute("sh " .. q(case .. "/run.sh") .. " >/dev/null 2>&1 &")
      until_true(function() return (read_file(case .. "/stderr") or ""):find("queued", 1, true) end, "queued")
      local pid = read_file(case .. "/pid"):match("%d+")
      execute("kill -INT -" .. pid) -- the group, as a terminal's Ctrl-C
      until_true(function() return (read_file(case .. "/rc") or ""):match("%d") end, "the exit")
      assert.equal(130, tonumber(read_file(case .. "/rc"):match("%d+")), read_file(case .. "/stderr"))
    end)

    it("during a download leaves no file at the target; resume downloads it", function()
      env.mock:fault { host = "cdn", method = "GET", action = "slow", delay_ms = 8000 }
      local case = case_dir()
      local pid, wait_exit = start(gen_args("song.mp3"), case)
      until_true(function() return #by_host(env.mock:requests(), "cdn") > 0 end, "the download to start")
      execute("sleep 0.3")
      execute("kill -INT " .. pid)
      assert.equal(130, wait_exit())
      -- No file at the target; its reservation stays while the job is unfinished.
      assert.same({ "pid", "rc", "run.sh", "song.mp3.lock", "state", "stderr", "stdout" }, util.ls(case))
      local r = run({ "resume", "--interval", "0.1" }, { case = case })
      assert.equal(0, r.code, r.err)
      assert.is_true(#read_file(case .. "/song.mp3") > 0)
      assert.equal(1, #posts())
      assert.is_nil(read_file(case .. "/song.mp3.lock"))
    end)

    it("during resume leaves every job to the next resume, naming no one of them as the result", function()
      env.mock:config { duration = 0.2 }
      env.mock:fault { host = "cdn", method = "GET", action = "slow", delay_ms = 3000, times = 2 }
      local case = case_dir()
      for _, o in ipairs({ "one.mp3", "two.mp3" }) do
        local r = run({ "submit", "-p", PROMPT, "-l", LYRICS, "-o", o }, { case = case })
        assert.equal(0, r.code, r.err)
      end
      local pid, wait_exit = start({ "resume", "--interval", "0.1" }, case)
      until_true(function() return #by_host(env.mock:requests(), "cdn") > 0 end, "a download to start")
      execute("sleep 0.3")
      execute("kill -INT " .. pid)
      assert.equal(130, wait_exit())
      local err = read_file(case .. "/stderr")
      assert.matches("interrupted: the journal's jobs stay pending; aimlmusic resume goes on", err)
      assert.is_nil(err:find("aimlmusic wait", 1, true), err) -- a wait ID without -o downloads nothing
      assert.equal("", read_file(case .. "/stdout")) -- no id as if it were the only job
      local r = run({ "resume", "--interval", "0.1" }, { case = case })
      assert.equal(0, r.code, r.err)
      assert.is_true(#read_file(case .. "/one.mp3") > 0 and #read_file(case .. "/two.mp3") > 0)
    end)
  end)

  describe("on a terminal", function()
    -- #posix: needs script(1), a pseudo-terminal
    it("draws a status line and a progress bar on stderr #posix", function()
      env.mock:fault { host = "cdn", method = "GET", action = "slow", delay_ms = 1500 }
      local case = case_dir()
      -- Under `make asan` the sanitizer is preloaded: for the command (its core is built with
      -- it), not for script(1), whose own leaks it would report.
      local preload = os.getenv("LD_PRELOAD")
      local env_of_cmd = environ(case, preload and { LD_PRELOAD = preload } or nil)
      local cmd = "cd " .. q(case) .. " && " .. env_of_cmd .. " " .. cli_cmd(gen_args("song.mp3"))
      local log = case .. "/typescript"
      local ok = execute("env -u LD_PRELOAD script -qfec " .. q(cmd) .. " /dev/null </dev/null >" .. q(log) .. " 2>&1")
      local s = read_file(log) or ""
      assert.is_true(ok, s)
      assert.matches("\r\27%[K", s)
      assert.matches("downloading %[[#.]+%] +%d+%% ", s)
      assert.matches("left", s)
      assert.matches("%a+ · %d+s · ", s)
      assert.is_true(#read_file(case .. "/song.mp3") > 0)
      -- the same run with stderr on a file: no escape sequences there
      local r = run(gen_args("again.mp3"))
      assert.equal(0, r.code)
      assert.is_nil(r.err:find("\27", 1, true))
    end)

    -- #posix: needs script(1), a pseudo-terminal
    it("keeps the status line within a narrow terminal's width, so that it never wraps #posix", function()
      env.mock:fault { host = "cdn", method = "GET", action = "slow", delay_ms = 1500 }
      local case = case_dir()
      local preload = os.getenv("LD_PRELOAD")
      local env_of_cmd = environ(case, preload and { LD_PRELOAD = preload } or nil)
      -- 40 columns, as stty sets them on the pseudo-terminal (no COLUMNS in the environment)
      local cmd = "stty cols 40 rows 20; cd " .. q(case) .. " && env -u COLUMNS " .. env_of_cmd:gsub("^env ", "")
        .. " " .. cli_cmd(gen_args("song.mp3"))
      local log = case .. "/typescript"
      local ok = execute("env -u LD_PRELOAD script -qfec " .. q(cmd) .. " /dev/null </dev/null >" .. q(log) .. " 2>&1")
      local s = read_file(log) or ""
      assert.is_true(ok, s)
      local shown = 0
      -- a status line is ended by the next one's \r (a line of its own by \n may wrap)
      for line in s:gmatch("\r\27%[K([^\r\n]*)\r") do
        shown = shown + 1
        local chars = select(2, line:gsub("[^\128-\191]", ""))
        assert.is_true(chars < 40, ("%d characters: %q"):format(chars, line))
      end
      assert.is_true(shown > 0, s)
    end)

    -- #posix: needs script(1), a pseudo-terminal
    it("drops the rate before it cuts a word of the progress bar on 60 columns #posix", function()
      env.mock:fault { host = "cdn", method = "GET", action = "slow", delay_ms = 1500 }
      local case = case_dir()
      local preload = os.getenv("LD_PRELOAD")
      local env_of_cmd = environ(case, preload and { LD_PRELOAD = preload } or nil)
      local cmd = "stty cols 60 rows 20; cd " .. q(case) .. " && env -u COLUMNS " .. env_of_cmd:gsub("^env ", "")
        .. " " .. cli_cmd(gen_args("song.mp3"))
      local log = case .. "/typescript"
      local ok = execute("env -u LD_PRELOAD script -qfec " .. q(cmd) .. " /dev/null </dev/null >" .. q(log) .. " 2>&1")
      local s = read_file(log) or ""
      assert.is_true(ok, s)
      local bars = 0
      for line in s:gmatch("\r\27%[K(downloading %[[^\r\n]*)") do
        bars = bars + 1
        assert.matches(" left$", line) -- whole words: the time left, not "0:06 le"
        assert.is_true(select(2, line:gsub("[^\128-\191]", "")) < 60, line)
      end
      assert.is_true(bars > 0, s)
    end)
  end)
end)
