-- examples/nvim in headless Neovim against the mock server: :AimlMusic generates a track next
-- to the buffer while a 10 ms timer on the editor's event loop shows that nothing blocks it.
-- Neovim runs its own LuaJIT, so the module built for LuaJIT (build/luajit) is used, whatever
-- runtime runs these specs; `make build LUA=luajit` is run first (a no-op when up to date).

local mockctl = require "support.mockctl"
local util = require "support.util"
local json = require("cjson").new()

local MAX_GAP_MS = 50
local LYRICS = "[Verse]\nStreetlights flicker, the night breeze sighs\n[Chorus]\nIn this small cafe, I find my way"
local PROMPT = "A calm and soothing instrumental with gentle piano and soft strings."

local q, read_file, write_file, execute = util.q, util.read_file, util.write_file, util.execute
local fetch, by_host, load_chunk = util.fetch, util.select_reqs, util.load_chunk

local function dump_messages(res)
  local lines = {}
  for _, m in ipairs(res.messages or {}) do
    lines[#lines + 1] = ("  [%d%s] %s"):format(m.level, m.fast and ", fast event" or "", m.msg)
  end
  return table.concat(lines, "\n")
end

describe("examples/nvim in headless Neovim", function()
  local mock, root, dir, n = nil, nil, nil, 0

  setup(function()
    mock = mockctl.start()
    root = util.repo_root()
    util.build_luajit(root, "Neovim")
    dir = util.tmpdir(true)
  end)

  teardown(function()
    util.rm_rf(dir)
  end)

  before_each(function()
    mock:reset()
  end)

  -- Opens <case dir>/song.txt (the lyrics) in `nvim --headless --clean` with examples/nvim on
  -- the runtimepath, runs examples/nvim/test/responsiveness.lua and returns its results.
  local function run_nvim(prompt)
    n = n + 1
    local case = dir .. "/case" .. n
    util.mkdir(case .. "/run")
    write_file(case .. "/song.txt", LYRICS .. "\n")
    local result, log = case .. "/run/result.lua", case .. "/run/nvim.log"
    local cmd = table.concat({
      "cd", q(case), "&&", "env -u LD_PRELOAD -u DISPLAY -u NVIM -u NVIM_LISTEN_ADDRESS",
      "XDG_RUNTIME_DIR=" .. q(case .. "/run"), "NVIM_LOG_FILE=" .. q(case .. "/run/nvim-internal.log"),
      "LUA_PATH=" .. q(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;"),
      "LUA_CPATH=" .. q(root .. "/build/luajit/?.so;;"),
      "AIMLAPI_BASE_URL=" .. q(mock.api_url), "AIMLAPI_KEY=" .. q(mock.key),
      "AIMLMUSIC_NVIM_RESULT=" .. q(result), "AIMLMUSIC_NVIM_PROMPT=" .. q(prompt),
      "AIMLMUSIC_NVIM_POLL=0.25", "AIMLMUSIC_NVIM_TIMEOUT=20",
      "AIMLMUSIC_NVIM_RTP=" .. q(root .. "/examples/nvim"),
      "AIMLMUSIC_NVIM_SCRIPT=" .. q(root .. "/examples/nvim/test/responsiveness.lua"),
      -- the script gives up after 20 s; this kills Neovim should it hang anyway
      "timeout -k 5 40 nvim --headless --clean",
      "--cmd", q("lua vim.opt.runtimepath:prepend(os.getenv('AIMLMUSIC_NVIM_RTP'))"),
      "song.txt",
      "-c", q("lua dofile(os.getenv('AIMLMUSIC_NVIM_SCRIPT'))"),
      "</dev/null >" .. q(log) .. " 2>&1",
    }, " ")
    local ok, code = execute(cmd)
    local s = read_file(result)
    assert(s, ("Neovim wrote no result (exit %s, ok %s); its output:\n%s"):format(
      tostring(code), tostring(ok), read_file(log) or ""))
    local res = load_chunk(s, "=nvim result")
    assert.is_true(res.has_command, ":AimlMusic was not defined: plugin/aimlmusic.lua was not loaded")
    for _, m in ipairs(res.messages) do
      assert.is_false(m.fast, "vim.notify called from a fast event: " .. m.msg)
    end
    return res, case
  end

  it("generates a track next to the buffer while a 10 ms timer keeps ticking", function()
    mock:config { duration = 1.5 }
    local res, case = run_nvim(PROMPT)
    assert.equal("done", res.reason, "the run ended with " .. res.reason .. ":\n" .. dump_messages(res))

    -- The file is next to the buffer, with the bytes the CDN served.
    local saved = read_file(case .. "/song.mp3")
    assert.is_not_nil(saved, "no song.mp3 next to song.txt")
    local cdn = by_host(mock:requests(), "cdn")
    assert.equal(1, #cdn)
    local url = mock.cdn_url .. cdn[1].path .. (cdn[1].query ~= "" and "?" .. cdn[1].query or "")
    local served = fetch(url)
    assert.is_true(#served > 0)
    assert.equal(#served, #saved)
    assert.is_true(served == saved, "song.mp3 differs from what the CDN served")

    -- The lyrics are the buffer's text and the prompt the command's argument.
    local posts = {}
    for _, r in ipairs(by_host(mock:requests(), "api")) do
      if r.method == "POST" then posts[#posts + 1] = r end
    end
    assert.equal(1, #posts)
    local body = json.decode(posts[1].body)
    assert.equal(LYRICS, body.lyrics)
    assert.equal(PROMPT, body.prompt)
    assert.equal("minimax/music-2.0", body.model)

    -- Every status change was notified, then the path.
    local text = dump_messages(res)
    for _, status in ipairs({ "queued", "generating", "completed" }) do
      assert.matches("AimlMusic: " .. status .. " %(", text)
    end
    assert.matches("saved " .. (case .. "/song.mp3"):gsub("%p", "%%%0"), text)
    for _, m in ipairs(res.messages) do
      assert.is_true(m.level < 4, "an error was notified: " .. m.msg) -- vim.log.levels.ERROR == 4
    end

    -- The editor's loop never stalled: the timer ticked all along, never more than 50 ms apart.
    print(("\n  nvim: largest timer gap %.1f ms (%d ticks of a 10 ms timer over %.0f ms)"):format(
      res.max_gap_ms, res.ticks, res.elapsed_ms))
    assert.is_true(res.elapsed_ms >= 1400, ("the run took %.0f ms, less than the job"):format(res.elapsed_ms))
    assert.is_true(res.ticks >= res.elapsed_ms / 20,
      ("only %d ticks in %.0f ms"):format(res.ticks, res.elapsed_ms))
    assert.is_true(res.max_gap_ms < MAX_GAP_MS, ("largest gap %.1f ms"):format(res.max_gap_ms))
  end)

  it("never overwrites: an existing song.mp3 makes it song-1.mp3", function()
    mock:config { duration = 0.3 }
    -- run_nvim numbers its cases: this one's directory is known before the run
    local case = dir .. "/case" .. (n + 1)
    util.mkdir(case)
    write_file(case .. "/song.mp3", "an earlier track")
    local res = run_nvim(PROMPT)
    assert.equal("done", res.reason, dump_messages(res))
    assert.equal("an earlier track", read_file(case .. "/song.mp3"))
    local saved = read_file(case .. "/song-1.mp3")
    assert.is_not_nil(saved, "no song-1.mp3")
    assert.is_true(#saved > 0)
    assert.matches("saved " .. (case .. "/song-1.mp3"):gsub("%p", "%%%0"), dump_messages(res))
  end)

  it("reports invalid parameters at ERROR level and sends nothing", function()
    local res, case = run_nvim("too short")
    assert.equal("error", res.reason, dump_messages(res))
    local last = res.messages[#res.messages]
    assert.equal(4, last.level) -- vim.log.levels.ERROR
    assert.matches("validation", last.msg)
    assert.matches("prompt", last.msg)
    assert.equal(0, #mock:requests())
    assert.is_nil(read_file(case .. "/song.mp3"))
  end)
end)
