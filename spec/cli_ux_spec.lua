-- The command line as a shell user meets it: -q prints only the result, -v says every request,
-- retry and stall (and a terminal's status line says them too), a slip of a command, option or
-- model name gets "did you mean", shell completion works in a real bash, the man page is made
-- from --help and installed by make rock, models NAME prints ranges as the table means them,
-- JSON keeps its slashes, a config file gives defaults that flags override, and bin/aimlmusic
-- finds a Lua with a built core whichever one runs it.

local fixture = require "support.fixture"
local util = require "support.util"
local json = require("cjson").new()

local q, read_file, write_file, execute = util.q, util.read_file, util.write_file, util.execute
local PROMPT, LYRICS = util.PARAMS.prompt, util.PARAMS.lyrics
local LUA = util.LUA

describe("the aimlmusic command for a shell user", function()
  local env = fixture.mock_client { duration = 0.2, client = false, dir = "private" }
  local root, n = util.repo_root(), 0

  local function case_dir()
    n = n + 1
    return util.mkdir(env.dir .. "/case" .. n)
  end

  local function environ(case, extra)
    return "env -u AIMLAPI_KEY -u XDG_STATE_HOME -u XDG_CONFIG_HOME -u AIMLAPI_BASE_URL -u AIMLMUSIC_LOG"
      .. " AIMLAPI_BASE_URL=" .. q(env.mock.api_url) .. " AIMLAPI_KEY=" .. q(env.mock.key)
      .. " XDG_STATE_HOME=" .. q(case .. "/state") .. " HOME=" .. q(case) .. " " .. (extra or "")
  end

  local function cli_cmd(args, lua)
    local words = {}
    for _, a in ipairs(args) do words[#words + 1] = q(a) end
    return (lua or LUA) .. " " .. q(root .. "/bin/aimlmusic") .. " " .. table.concat(words, " ")
  end

  -- Runs the command to its end: {code, out, err, case}.
  local function run(args, case, extra, lua)
    case = case or case_dir()
    execute("(cd " .. q(case) .. " && " .. environ(case, extra) .. " " .. cli_cmd(args, lua)
      .. " </dev/null >stdout 2>stderr); echo $? >" .. q(case .. "/rc"))
    local code = tonumber((read_file(case .. "/rc") or ""):match("%d+"))
    return { code = code, out = read_file(case .. "/stdout") or "", err = read_file(case .. "/stderr") or "",
             case = case }
  end

  -- Runs the command on a terminal (script(1)): what the terminal showed.
  local function on_terminal(args, case)
    case = case or case_dir()
    local preload = os.getenv("LD_PRELOAD")
    local cmd = "cd " .. q(case) .. " && " .. environ(case) .. (preload and " LD_PRELOAD=" .. q(preload) or "")
      .. " " .. cli_cmd(args)
    execute("env -u LD_PRELOAD script -qfec " .. q(cmd) .. " /dev/null </dev/null >" .. q(case .. "/ts") .. " 2>&1")
    return read_file(case .. "/ts") or ""
  end

  local function gen_args(out, ...)
    local a = { "generate", "-p", PROMPT, "-l", LYRICS, "-o", out, "--interval", "0.1" }
    for _, x in ipairs({ ... }) do a[#a + 1] = x end
    return a
  end

  -- A 503 on the first poll and a download that goes 4 s without a byte (its body in ten
  -- pieces over 40 s) against a request timeout of 1 s: one retry of each.
  local function faults()
    env.mock:fault { method = "GET", status = 503, times = 1 }
    env.mock:fault { host = "cdn", action = "slow", delay_ms = 40000, times = 1 }
  end

  -- #posix: needs script(1), a pseudo-terminal, and luv
  it("mock on a terminal says what to paste into another one #posix", function()
    local shown = on_terminal({ "mock", "--port", "0", "--max-lifetime", "0.3" }):gsub("\r", "")
    local api = shown:match("aimlmusic mock: api (%S+) cdn %S+\n")
    assert.truthy(api, shown)
    assert.truthy(shown:find("export AIMLAPI_BASE_URL=" .. api .. " AIMLAPI_KEY=test-key\n", 1, true), shown)
  end)

  describe("-v on a terminal", function()
    -- #posix: needs script(1), a pseudo-terminal
    it("shows each request, the 503's retry and the stall's, and the status line says the stall #posix", function()
      faults()
      local s = on_terminal(gen_args("song.mp3", "-v", "--request-timeout", "1"))
      local plain = s:gsub("\r\27%[K", "\n")
      assert.matches("aimlmusic: debug: POST http://[^\n]*/v2/generate/audio %(submit, attempt 1%)", plain)
      assert.matches("aimlmusic: warn: retrying status in [^\n]* after server: [^\n]*HTTP 503%) %(retry 1 of 3%)", plain)
      assert.matches("aimlmusic: warn: download stalled at [^\n]*", plain)
      assert.matches("aimlmusic: warn: retrying download in [^\n]* after timeout: [^\n]*%(retry 1 of 3%)", plain)
      assert.matches("downloading [^\n]* · stalled, retrying %(1/3%)", plain)
      assert.matches("saved song.mp3", plain)
      assert.is_nil(plain:find(env.mock.key, 1, true), "the key is never shown")
    end)

    -- #posix: needs script(1), a pseudo-terminal
    it("without -v, the status line still says the retry and the stall, and no event line is shown #posix", function()
      faults()
      local s = on_terminal(gen_args("song.mp3", "--request-timeout", "1"))
      assert.matches("· HTTP 503, retrying %(1/3%)", s)
      assert.matches("downloading [^\r\n]* · stalled, retrying %(1/3%)", s)
      assert.is_nil(s:find("aimlmusic: debug", 1, true))
      assert.matches("saved song.mp3", s)
    end)

    -- #posix: needs script(1), a pseudo-terminal
    it("says how long no byte came while a download waits, instead of a frozen bar #posix", function()
      -- Pieces 6 s apart against a request timeout of 4 s: a wait the line counts (from 3 s, several
      -- ticks a second), then a stall.
      env.mock:fault { host = "cdn", action = "slow", delay_ms = 60000, times = 1 }
      local s = on_terminal(gen_args("song.mp3", "--request-timeout", "4"))
      assert.matches("downloading [^\r\n]* · no data for 3s", s)
      assert.matches("downloading [^\r\n]* · stalled, retrying %(1/3%)", s)
      assert.matches("saved song.mp3", s)
    end)
  end)

  describe("--json on a terminal", function()
    -- #posix: needs script(1), a pseudo-terminal
    it("clears the status line before the JSON object, which starts a line of its own #posix", function()
      local s = on_terminal(gen_args("song.mp3", "--json"))
      local at = assert(s:find('{"', 1, true), s)
      -- what the terminal shows on the JSON's row: the object alone, the status line erased before
      assert.equal("\r\27[K", s:sub(at - 4, at - 1), s)
      assert.is_nil(s:sub(at):find("\27", 1, true), "the status line came back after the JSON")
      assert.matches('"path":"song.mp3"', s)
    end)
  end)

  describe("-q", function()
    -- #posix: needs script(1), a pseudo-terminal
    it("prints only the path, before or after the command, on a terminal too #posix", function()
      local r = run({ "-q", "generate", "-p", PROMPT, "-l", LYRICS, "-o", "a.mp3", "--interval", "0.1" })
      assert.equal(0, r.code, r.err)
      assert.equal("a.mp3\n", r.out)
      assert.equal("", r.err)
      local s = on_terminal(gen_args("b.mp3", "-q"))
      assert.equal("b.mp3\r\n", s)
    end)

    it("prints only the id for submit, and still says an error", function()
      local r = run({ "submit", "-q", "-p", PROMPT, "-l", LYRICS })
      assert.equal(0, r.code, r.err)
      assert.equal("", r.err)
      assert.equal(env.mock:jobs()[1].id .. "\n", r.out)
      r = run({ "-q", "submit", "-p", "short" })
      assert.equal(2, r.code)
      assert.matches("prompt", r.err)
      r = run({ "-q", "-v", "models" })
      assert.equal(2, r.code)
      assert.matches("give %-q or %-v, not both", r.err)
    end)
  end)

  describe("did you mean", function()
    it("names the command, the option and the model a slip was meant for, exit 2", function()
      local r = run({ "genrate" })
      assert.equal(2, r.code)
      assert.matches("unknown command genrate %(did you mean generate%?%)", r.err)
      r = run({ "generate", "--modle", "x" })
      assert.equal(2, r.code)
      assert.matches("unknown option %-%-modle %(did you mean %-%-model%?%)", r.err)
      r = run({ "models", "stable-audi" })
      assert.equal(2, r.code)
      assert.matches("unknown model stable%-audi %(did you mean stable%-audio%?%)", r.err)
      r = run({ "completion", "bsh" })
      assert.equal(2, r.code)
      assert.matches("did you mean bash", r.err)
    end)
  end)

  describe("completion", function()
    -- Calls the completion function as bash's programmable completion does: COMP_WORDS, COMP_CWORD.
    local function complete(script, words)
      local case = case_dir()
      write_file(case .. "/c.bash", script)
      local arr = {}
      for _, w in ipairs(words) do arr[#arr + 1] = q(w) end
      local cmd = "source " .. q(case .. "/c.bash") .. "; COMP_WORDS=(" .. table.concat(arr, " ") .. "); "
        .. "COMP_CWORD=" .. (#words - 1) .. "; " .. "$(complete -p aimlmusic | sed 's/.* -F \\([^ ]*\\) .*/\\1/')"
        .. "; for w in \"${COMPREPLY[@]}\"; do printf '%s\\n' \"$w\"; done"
      execute("bash --norc --noprofile -c " .. q(cmd) .. " >" .. q(case .. "/out") .. " 2>&1")
      return read_file(case .. "/out") or ""
    end

    it("bash: sourced in a real bash, gen<TAB> completes to generate, options and model names too", function()
      local r = run({ "completion", "bash" })
      assert.equal(0, r.code, r.err)
      assert.equal("generate\n", complete(r.out, { "aimlmusic", "gen" }))
      assert.equal("generate\n", complete(r.out, { "aimlmusic", "-q", "gen" }))
      assert.equal("--model\n", complete(r.out, { "aimlmusic", "generate", "--mod" }))
      assert.matches("minimax/music%-2%.6\n", complete(r.out, { "aimlmusic", "generate", "-m", "minimax/" }))
      assert.equal("stable-audio\n", complete(r.out, { "aimlmusic", "models", "stab" }))
      assert.equal("", complete(r.out, { "aimlmusic", "models", "--mod" }), "models takes no --model")
    end)

    it("zsh and fish: a script each that names every command and model", function()
      for _, shell in ipairs({ "zsh", "fish" }) do
        local r = run({ "completion", shell })
        assert.equal(0, r.code, r.err)
        for _, word in ipairs({ "generate", "resume", "completion", "minimax/music-2.6", "output-dir" }) do
          assert.truthy(r.out:find(word, 1, true), shell .. " lacks " .. word)
        end
      end
      if execute("command -v fish >/dev/null 2>&1") then
        local r = run({ "completion", "fish" })
        write_file(r.case .. "/c.fish", r.out)
        assert.is_true(execute("fish --no-execute " .. q(r.case .. "/c.fish")))
      end
    end)
  end)

  describe("the man page", function()
    -- #posix: needs the build host's Lua: tools/gen-man.lua is a build tool (under wine its lines end in CRLF)
    it("is the one tools/gen-man.lua makes from --help's texts now #posix", function()
      local case = case_dir()
      assert.is_true(execute("unset LD_PRELOAD; cd " .. q(root) .. " && " .. LUA
        .. " tools/gen-man.lua >" .. q(case .. "/m.1")))
      assert.equal(read_file(root .. "/man/man1/aimlmusic.1"), read_file(case .. "/m.1"))
      local r = run({ "generate", "--help" })
      assert.truthy(read_file(case .. "/m.1"):find("--request-timeout S", 1, true))
      assert.truthy(r.out:find("--request-timeout S", 1, true))
    end)

    -- #posix: needs make, luarocks and man on the host
    it("man aimlmusic works after make rock, from the tree's bin on PATH #posix", function()
      if not execute("command -v luarocks >/dev/null 2>&1 && command -v man >/dev/null 2>&1") then
        error("luarocks and man are needed (tools/deps.sh)")
      end
      local case = case_dir()
      local copy, tree = case .. "/src", case .. "/tree"
      -- make rock builds in the tree it is given: a copy, so the checkout stays clean.
      assert.is_true(execute("unset LD_PRELOAD; mkdir -p " .. q(copy) .. " && cd " .. q(root)
        .. " && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t " .. q(copy)))
      -- ROCK_VARS: LuaRocks compiles at -O0, quicker; what is checked (the installed page) is the same
      assert.is_true(execute("unset LD_PRELOAD; cd " .. q(copy) .. " && make --no-print-directory rock LUA=" .. LUA
        .. " ROCK_TREE=" .. q(tree) .. " ROCK_VARS=" .. q(" CFLAGS='-O0 -fPIC'") .. " >" .. q(case .. "/make.log")
        .. " 2>&1"), read_file(case .. "/make.log"))
      local cmd = "cd /tmp && env -u MANPATH -u LD_PRELOAD HOME=" .. q(case) .. " PATH=" .. q(tree .. "/bin")
        .. ":/usr/bin:/bin "
        .. "MANPAGER=cat MANWIDTH=80 man aimlmusic >" .. q(case .. "/man.txt") .. " 2>&1"
      assert.is_true(execute(cmd), read_file(case .. "/man.txt"))
      local page = read_file(case .. "/man.txt")
      assert.matches("aimlmusic %- Generate music with the AI/ML API", page)
      assert.matches("completion bash|zsh|fish", page, 1, true)
    end)
  end)

  describe("models NAME", function()
    it("shows one model, a length with no minimum as at most N, a bound below as ≥", function()
      local r = run({ "models", "stable-audio" })
      assert.equal(0, r.code, r.err)
      assert.matches("^stable%-audio", r.out)
      assert.is_nil(r.out:find("minimax", 1, true))
      -- the command's own symbols: — – ≥, or - - >= on Windows (its console's code page)
      local sym = require("aimlmusic.cli.output").sym
      r = run({ "models", "google/lyria2" })
      assert.truthy(r.out:find("google/lyria2 " .. sym.dash .. " ", 1, true) == 1, r.out)
      assert.matches("seed +integer +" .. sym.ge .. " 0", r.out)
      assert.is_nil(r.out:find("0" .. sym.range .. "\n", 1, true))
      r = run({ "models", "elevenlabs/eleven_music" })
      assert.matches("prompt +string +required, at most 2000 characters", r.out)
      r = run({ "models", "minimax/music-2.0" })
      assert.truthy(r.out:find("required, 10" .. sym.range .. "2000 characters", 1, true), r.out)
    end)
  end)

  describe("JSON", function()
    it("keeps slashes: minimax/music-2.6 in --json and in the journal, not minimax\\/music-2.6", function()
      local r = run({ "models", "--json" })
      assert.truthy(r.out:find('"minimax/music-2.6"', 1, true))
      assert.is_nil(r.out:find("\\/", 1, true))
      local case = case_dir()
      util.mkdir(case .. "/sub")
      r = run({ "submit", "-m", "minimax/music-2.6", "-p", PROMPT, "-l", LYRICS, "-o", "sub/x.mp3", "--json" }, case)
      assert.equal(0, r.code, r.err)
      assert.truthy(r.out:find(":minimax/music-2.6", 1, true), r.out)
      assert.equal("minimax/music-2.6", json.decode(r.out).model)
      local journal = read_file(r.case .. "/state/aimlmusic/jobs.journal")
      assert.truthy(journal:find("minimax/music-2.6", 1, true), journal)
      assert.truthy(journal:find('/sub/x.mp3"', 1, true), journal)
      assert.is_nil(journal:find("\\/", 1, true), journal)
    end)
  end)

  describe("errors and help for a shell user", function()
    it("says how to give a key when none is set", function()
      local case = case_dir()
      local r = run({ "status", "x:minimax/music-2.0" }, case, "AIMLAPI_KEY=")
      assert.equal(2, r.code)
      assert.equal("aimlmusic: no API key: set AIMLAPI_KEY or use --key-file FILE\n", r.err)
    end)

    it("--help says the poll interval is the learned schedule, not 5 s", function()
      local r = run({ "generate", "--help" })
      assert.matches("%-%-interval S +seconds between status polls %(default: a%s+schedule learned", r.out)
      assert.is_nil(r.out:find("polls (5)", 1, true))
      r = run({ "--help" })
      assert.matches("%-q, %-%-quiet", r.out)
      assert.matches("completion", r.out)
    end)
  end)

  describe("the config file", function()
    -- #posix: needs HOME for ~/.config: Windows has none
    it("gives defaults that flags override, from $XDG_CONFIG_HOME or ~/.config #posix", function()
      local case = case_dir()
      util.mkdir(case .. "/.config/aimlmusic")
      util.mkdir(case .. "/songs")
      write_file(case .. "/.config/aimlmusic/config", "# defaults\nmodel = minimax/music-2.6\n"
        .. "output-dir = songs\nquiet = true\n\ninterval = 0.1\n")
      local r = run({ "generate", "-p", PROMPT, "-l", LYRICS, "-o", "a.mp3" }, case)
      assert.equal(0, r.code, r.err)
      assert.equal("songs/a.mp3\n", r.out) -- quiet: the path only
      assert.truthy(read_file(case .. "/songs/a.mp3"))
      assert.equal("minimax/music-2.6", env.mock:jobs()[1].model)
      r = run({ "generate", "-v", "-m", "minimax/music-2.0", "-p", PROMPT, "-l", LYRICS, "-o", "b.mp3" }, case)
      assert.matches("aimlmusic: debug: POST", r.err) -- -v wins over quiet = true
      assert.equal("minimax/music-2.0", env.mock:jobs()[2].model)
      assert.matches("songs/b.mp3\n$", r.out)

      local xdg = case_dir()
      util.mkdir(xdg .. "/cfg/aimlmusic")
      write_file(xdg .. "/cfg/aimlmusic/config", "quiet = yes\n")
      r = run({ "submit", "-p", PROMPT, "-l", LYRICS }, xdg, "XDG_CONFIG_HOME=" .. q(xdg .. "/cfg"))
      assert.equal(0, r.code, r.err)
      assert.equal("", r.err)
    end)

    -- #posix: needs HOME for ~/.config: Windows has none
    it("refuses a bad key, naming its line and the key meant, exit 2 #posix", function()
      local case = case_dir()
      util.mkdir(case .. "/.config/aimlmusic")
      write_file(case .. "/.config/aimlmusic/config", "model = minimax/music-2.0\nbase-ulr = http://x\n")
      local r = run({ "models" }, case)
      assert.equal(2, r.code)
      assert.matches("config:2: unknown key base%-ulr %(did you mean base%-url%?%)", r.err)
      write_file(case .. "/.config/aimlmusic/config", "quiet = maybe\n")
      r = run({ "models" }, case)
      assert.equal(2, r.code)
      assert.matches("config:1: quiet needs true or false, got maybe", r.err)
      -- a bad value is the file's, not a flag the user never typed
      write_file(case .. "/.config/aimlmusic/config", "model = minimax/music-2.0\ninterval = soon\n")
      r = run({ "wait", "x" }, case)
      assert.equal(2, r.code)
      assert.matches("config:2: interval needs a number of seconds from 0%.001 to 2147483", r.err)
      write_file(case .. "/.config/aimlmusic/config", "key = sk-123\n")
      r = run({ "models" }, case)
      assert.equal(2, r.code)
      assert.matches("config:1: unknown key key %(the key itself stays out of this file: key%-file = FILE", r.err)
      assert.is_nil(r.err:find("sk-123", 1, true))
    end)
  end)

  describe("the README's command-line section", function()
    -- The first ```lang block after the line "## The command line", then the next.
    local function blocks()
      local readme = assert(read_file(root .. "/README.md"))
      local at = assert(readme:find("\n## The command line\n", 1, true))
      local out = {}
      for lang, body in readme:sub(at, (readme:find("\n## ", at + 5, true))):gmatch("```(%w+)\n(.-)```") do
        out[#out + 1] = { lang = lang, body = body }
      end
      return out
    end

    -- #posix: needs HOME for ~/.config: Windows has none
    it("runs as written against the mock, with its config file #posix", function()
      local b = blocks()
      assert.equal("sh", b[1].lang)
      assert.equal("ini", b[2].lang)
      local case = case_dir()
      write_file(case .. "/song.txt", LYRICS .. "\n")
      -- The key is the spec's; the rest as written, aimlmusic being bin/aimlmusic.
      local script = b[1].body:gsub("export AIMLAPI_KEY=[^\n]*\n", "")
      write_file(case .. "/readme.sh", "set -e\naimlmusic() { " .. LUA .. " " .. q(root .. "/bin/aimlmusic")
        .. ' "$@"; }\n' .. script)
      execute("cd " .. q(case) .. " && " .. environ(case) .. " sh readme.sh >out 2>err")
      local out, err = read_file(case .. "/out"), read_file(case .. "/err")
      assert.truthy(read_file(case .. "/song.mp3"), err)
      assert.truthy(read_file(case .. "/pads.wav"), err)
      assert.matches("^song%.mp3\npads%.wav\nstable%-audio — ", out)

      -- The config file as written: its model, output directory and key file.
      util.mkdir(case .. "/.config/aimlmusic")
      util.mkdir(case .. "/Music/aimlmusic")
      write_file(case .. "/.config/aimlmusic/config", b[2].body)
      write_file(case .. "/.config/aimlmusic/key", env.mock.key .. "\n")
      local r = run({ "generate", "-p", PROMPT, "-l", LYRICS, "-o", "c.mp3", "--interval", "0.1" }, case,
        "AIMLAPI_KEY=")
      assert.equal(0, r.code, r.err)
      assert.equal(case .. "/Music/aimlmusic/c.mp3\n", r.out)
      assert.equal("minimax/music-2.6", env.mock:jobs()[3].model)
    end)
  end)

  describe("a new user's first minute", function()
    local function posts()
      return #util.select_reqs(env.mock:requests(), "api", "POST")
    end

    it("--json makes a mistake on the command line one JSON object too, exit 2", function()
      for _, argv in ipairs({ { "generate", "--json", "--bogus" },
        { "generate", "--json", "-o", "a.mp3", "--timeout", "soon" },
        { "status", "--json", "x", "--interval" }, { "--json", "generate", "-p", PROMPT } }) do
        local r = run(argv)
        assert.equal(2, r.code, r.err)
        local ok, o = pcall(json.decode, r.out)
        assert.is_true(ok and type(o) == "table" and type(o.error) == "table", table.concat(argv, " ") .. ": " .. r.out)
        assert.equal("validation", o.error.kind)
        assert.truthy(r.err:find(o.error.message, 1, true), r.err)
      end
      assert.matches("%-%-json goes after the command", run({ "--json", "models" }).err)
    end)

    -- #posix: needs HOME for ~/.config: Windows has none
    it("--json makes a broken config file one JSON object too, exit 2 #posix", function()
      local case = case_dir()
      util.mkdir(case .. "/.config/aimlmusic")
      write_file(case .. "/.config/aimlmusic/config", "modle = x\n")
      local r = run({ "models", "--json" }, case)
      assert.equal(2, r.code)
      assert.matches("unknown key modle", json.decode(r.out).error.message)
    end)

    it("-o a directory or an empty path: says what to give, not --overwrite, and sends nothing", function()
      local case = case_dir()
      util.mkdir(case .. "/songs")
      for _, extra in ipairs({ {}, { "--overwrite" } }) do
        local argv = gen_args("songs")
        for _, x in ipairs(extra) do argv[#argv + 1] = x end
        local r = run(argv, case)
        assert.equal(2, r.code, r.err)
        assert.matches("songs is a directory: give the track a file name in it %(%-o songs/track%.mp3%)", r.err)
        assert.is_nil(r.err:find("overwrite", 1, true), r.err)
      end
      local r = run(gen_args(""), case)
      assert.equal(2, r.code)
      assert.matches("%-o needs a file path", r.err)
      assert.equal(0, posts())
    end)

    it("wait, download and submit -o an existing file: exit 2 at once, naming --overwrite", function()
      env.mock:config { duration = 30 }
      local case = case_dir()
      local r = run({ "submit", "-p", PROMPT, "-l", LYRICS }, case)
      assert.equal(0, r.code, r.err)
      local id = r.out:match("([^\n]+)\n$")
      write_file(case .. "/a.mp3", "an earlier track")
      local before = #env.mock:requests()
      local calls = { { "wait", id, "-o", "a.mp3" }, { "download", id, "-o", "a.mp3" },
        { "submit", "-p", PROMPT, "-l", LYRICS, "-o", "a.mp3" } }
      for _, argv in ipairs(calls) do
        r = run(argv, case)
        assert.equal(2, r.code, argv[1] .. ": " .. r.err)
        assert.matches("a%.mp3 exists: pass %-%-overwrite to replace it", r.err)
        assert.is_nil(r.err:find("overwrite = true", 1, true), r.err)
      end
      assert.equal(before, #env.mock:requests()) -- not a request: no 30 s wait before saying so
      assert.equal("an earlier track", read_file(case .. "/a.mp3"))
    end)

    it("resume's advice for a file in the way names resume --overwrite; -q still says it", function()
      local case = case_dir()
      local r = run({ "submit", "-p", PROMPT, "-l", LYRICS, "-o", "later.mp3" }, case)
      assert.equal(0, r.code, r.err)
      local id = r.out:match("([^\n]+)\n$")
      write_file(case .. "/later.mp3", "not the job's track")
      for _, argv in ipairs({ { "resume", "--interval", "0.1" }, { "-q", "resume", "--interval", "0.1" } }) do
        r = run(argv, case)
        assert.equal(1, r.code, r.err)
        assert.matches("move the file, or aimlmusic resume %-%-overwrite", r.err)
        -- the program named once, then the job: "aimlmusic: ID: io: ..."
        assert.truthy(r.err:find("aimlmusic: " .. id .. ": io: ", 1, true), r.err)
        assert.is_nil(r.err:find("aimlmusic: [^\n]*aimlmusic: io"), r.err)
        assert.is_nil(r.err:find("overwrite = true", 1, true), r.err)
      end
      r = run({ "resume", "--json", "--interval", "0.1" }, case)
      assert.matches("aimlmusic resume %-%-overwrite", json.decode(r.out).jobs[1].error.message)
    end)

    it("refuses numbers the library would, in the command's words and before anything is sent", function()
      for _, o in ipairs({ { "--timeout", "0", "%-%-timeout needs a number of seconds from 0%.001 to 2147483" },
        { "--interval", "0", "%-%-interval needs a number of seconds from 0%.001 to 2147483" },
        { "--request-timeout", "1e99", "%-%-request%-timeout needs a number of seconds from 0%.001 to 2147483" },
        { "--retries", "101", "%-%-retries needs a whole number from 0 to 100" } }) do
        local r = run(gen_args("a.mp3", o[1], o[2]))
        assert.equal(2, r.code, r.err)
        assert.matches("^aimlmusic: " .. o[3] .. "\n$", r.err)
      end
      assert.equal(0, posts())
    end)

    -- #posix: needs HOME for ~/.config: Windows has none
    it("--help works with a broken config file, which it is the way to mend #posix", function()
      local case = case_dir()
      util.mkdir(case .. "/.config/aimlmusic")
      write_file(case .. "/.config/aimlmusic/config", "modle = minimax/music-2.6\n")
      local r = run({ "generate", "--help" }, case)
      assert.equal(0, r.code, r.err)
      assert.matches("^usage: aimlmusic generate", r.out)
      r = run({ "generate", "-p", PROMPT }, case)
      assert.equal(2, r.code) -- and the file is still refused when used
      assert.matches("unknown key modle", r.err)
    end)

    it("suggests the model a short name means: music-2.6, lyria2, stable", function()
      local r = run({ "models", "music-2.6" })
      assert.equal(2, r.code)
      assert.matches("unknown model music%-2%.6 %(did you mean minimax/music%-2%.6%?%)", r.err)
      r = run({ "validate", "-m", "lyria2", "-p", PROMPT })
      assert.equal(2, r.code)
      assert.matches("did you mean google/lyria2%?", r.err)
      r = run({ "validate", "-m", "lyria2", "-p", PROMPT, "--json" })
      assert.equal("did you mean google/lyria2?", json.decode(r.out).error.hint)
      r = run(gen_args("a.mp3", "-m", "stable", "--set", "seconds_total=5"))
      assert.equal(2, r.code)
      assert.matches("unknown model stable %(did you mean stable%-audio%?%)", r.err)
      assert.equal(0, posts())
    end)

    it("help fits 80 columns, and lists under every command's options only what every command takes", function()
      local texts = { run({ "--help" }).out }
      for _, c in ipairs({ "generate", "submit", "status", "wait", "download", "resume", "models", "validate",
        "completion", "mock" }) do
        texts[#texts + 1] = run({ c, "--help" }).out
      end
      for _, t in ipairs(texts) do
        for line in t:gmatch("[^\n]+") do
          assert.is_true(select(2, line:gsub("[^\128-\191]", "")) <= 80, line)
        end
      end
      local every = texts[1]:match("Options of every command, before or after it:\n(.-)\n\n")
      for name in every:gmatch("%-%-([%w-]+)") do
        local r = run({ "models", "--" .. name })
        assert.equal(0, r.code, "--" .. name .. " after a command: " .. r.err)
      end
      local r = run({ "completion", "-q", "bash" }) -- -q: with every command
      assert.equal(0, r.code, r.err)
      assert.matches("^# bash completion", r.out)
    end)

    it("models NAME ends no line with spaces", function()
      local r = run({ "models", "minimax/music-2.0" })
      assert.equal(0, r.code)
      assert.is_nil(r.out:find(" \n", 1, true), r.out)
    end)
  end)

  describe("bin/aimlmusic", function()
    -- #posix: needs the host's Lua interpreters and a core built for one of them
    it("and bin/aimlmusic-mock run under a Lua with no core for it, through one that has one, or say to run make #posix",
      function()
      local other
      for _, lua in ipairs({ "luajit", "lua5.4", "lua5.1", "lua5.3", "lua5.2" }) do
        if lua ~= LUA and execute("command -v " .. lua .. " >/dev/null 2>&1") then
          other = lua
          break
        end
      end
      assert(other, "a second Lua is needed (tools/deps.sh installs luajit)")
      -- A checkout with the core built for the suite's Lua only, run by another one.
      local case = case_dir()
      local co = util.mkdir(case .. "/co")
      util.mkdir(co .. "/build")
      assert.is_true(execute("unset LD_PRELOAD; cp -r " .. q(root .. "/bin") .. " " .. q(root .. "/lua") .. " " .. q(co)
        .. " && cp -r " .. q(root .. "/build/" .. LUA) .. " " .. q(co .. "/build/")))
      local clean = "env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH"
        .. " -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_3 -u LUA_CPATH_5_3"
        .. " -u LUA_PATH_5_2 -u LUA_CPATH_5_2 -u LUA_INIT "
      local function launch(args, command)
        execute("cd " .. q(case) .. " && " .. clean .. other .. " co/bin/" .. (command or "aimlmusic") .. " " .. args
          .. " >o 2>e; echo $? >rc")
        return tonumber(read_file(case .. "/rc"):match("%d+")), read_file(case .. "/o"), read_file(case .. "/e")
      end
      local code, out, err = launch("--version")
      assert.equal(0, code, err)
      assert.matches("^aimlmusic %d+%.%d+%.%d+\n$", out)
      code, out, err = launch("genrate")
      assert.equal("", out)
      assert.equal(2, code, err) -- the exit code comes through
      assert.matches("did you mean generate", err)
      code, out, err = launch("--help", "aimlmusic-mock")
      assert.equal(0, code, err)
      assert.matches("^usage: aimlmusic%-mock", out)
      code, out, err = launch("--bogus", "aimlmusic-mock")
      assert.equal(2, code, err)
      assert.equal("", out)
      assert.matches("unknown option %-%-bogus", err)

      -- No core built at all: one line that says what to do.
      assert.is_true(execute("rm -r " .. q(co .. "/build")))
      for _, command in ipairs({ "aimlmusic", "aimlmusic-mock" }) do
        code, out, err = launch("--version", command)
        assert.equal(1, code)
        assert.equal("", out)
        assert.equal(1, select(2, err:gsub("\n", "")), err)
        assert.matches("^" .. command:gsub("%p", "%%%0") .. ": no aimlmusic.core built for " .. other:gsub("%p", "%%%0")
          .. ": run make", err)
      end
    end)
  end)
end)
