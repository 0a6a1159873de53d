-- Seeing what a client does: its events (on_event, log_level) say each request, response,
-- retry, redirect, stall, download milestone and journal record, in order, never the key;
-- AIMLMUSIC_LOG writes them to stderr without a change to the code; a hook that raises never
-- breaks the job. Against the mock over loopback, and a child process for the environment.

local music = require "aimlmusic"
local fixture = require "support.fixture"
local util = require "support.util"

local PARAMS, q = util.PARAMS, util.q

local KEY = "Zq9Wv-K3yT0p-Xp7Lm2Nb"

local env = fixture.mock_client { duration = 0.1 }

-- A client on the mock with the key above, whose events (at level, default debug) go to a list.
local function recording(extra)
  env.mock:config { key = KEY }
  local seen = {}
  local o = { api_key = KEY, on_event = function(ev) seen[#seen + 1] = ev end, log_level = "debug" }
  for k, v in pairs(extra or {}) do o[k] = v end
  return env.new_client(o), seen
end

-- The events of those kinds (a set), in order.
local function only(seen, kinds)
  local out = {}
  for _, ev in ipairs(seen) do
    if kinds[ev.kind] then out[#out + 1] = ev end
  end
  return out
end

-- Every string and number in v, keys included, deep.
local function strings(v, out)
  out = out or {}
  if type(v) == "table" then
    for k, x in pairs(v) do
      strings(k, out)
      strings(x, out)
    end
  elseif v ~= nil then
    out[#out + 1] = tostring(v)
  end
  return out
end

local function base64(s)
  local b = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((s:gsub(".", function(x)
    local r, byte = "", x:byte()
    for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return b:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

-- What must never show: the key, any 8 bytes of it, and the forms it could take in a header
-- or a URL.
local function key_forms()
  local forms = { KEY, KEY:upper(), KEY:lower(), KEY:reverse(), base64(KEY), base64("Bearer " .. KEY),
                  (KEY:gsub("%-", "%%2D")) }
  for i = 1, #KEY - 7 do forms[#forms + 1] = KEY:sub(i, i + 7) end
  return forms
end

local function assert_no_key(texts, what)
  for _, s in ipairs(texts) do
    for _, form in ipairs(key_forms()) do
      assert.is_nil(s:find(form, 1, true), what .. " holds the key (" .. form .. "): " .. s)
    end
  end
end

describe("client events", function()
  it("a poll answered 503, then one that succeeds: request, response, retry, request, response", function()
    local c, seen = recording()
    local job = assert(c:submit(PARAMS))
    env.mock:fault { method = "GET", status = 503 }
    assert(c:wait(job))
    local polls = {}
    for _, ev in ipairs(only(seen, { request = true, response = true, retry = true })) do
      if ev.request == "status" then polls[#polls + 1] = ev end
    end
    assert.is_true(#polls >= 5)
    local kinds = {}
    for i = 1, 5 do kinds[i] = polls[i].kind end
    assert.same({ "request", "response", "retry", "request", "response" }, kinds)
    local req, resp, retry = polls[1], polls[2], polls[3]
    assert.equal("GET", req.method)
    assert.equal(env.mock.api_url .. "/v2/generate/audio?generation_id=" .. job.id:gsub("[^%w%-._~]",
      function(ch) return ("%%%02X"):format(ch:byte()) end), req.url)
    assert.equal(1, req.attempt)
    assert.equal("debug", req.level)
    assert.equal(503, resp.status)
    assert.equal("info", resp.level)
    assert.is_number(resp.elapsed)
    assert.is_string(resp.request_id)
    assert.matches("^server: ", resp.error)
    assert.equal("warn", retry.level)
    assert.is_number(retry.delay)
    assert.is_true(retry.delay > 0)
    assert.matches("HTTP 503", retry.cause, 1, true)
    assert.equal("server", retry.error_kind)
    assert.equal(200, polls[5].status)
    assert.is_nil(polls[5].error)
    -- The status changes, in order, end with completed.
    local statuses = only(seen, { status = true })
    assert.equal("completed", statuses[#statuses].status)
    for _, ev in ipairs(seen) do assert.is_number(ev.time) end
  end)

  it("a download gives its milestones, a quarter at a time", function()
    local c, seen = recording()
    local st = assert(c:wait(assert(c:submit(fixture.WAV))))
    env.mock:fault { host = "cdn", action = "slow", delay_ms = 800 }
    local info = assert(c:download(st, env.dir .. "/milestones.wav"))
    local marks = only(seen, { progress = true })
    local percents = {}
    for i, ev in ipairs(marks) do
      percents[i] = ev.percent
      assert.equal(info.bytes, ev.total)
      assert.equal("info", ev.level)
      assert.is_true(ev.bytes >= ev.total * ev.percent / 100)
    end
    assert.same({ 25, 50, 75, 100 }, percents)
  end)

  it("a redirect names hosts only, a stall is said, and the retry that follows", function()
    local c, seen = recording { timeout = 5 }
    local st = assert(c:wait(assert(c:submit(fixture.WAV))))
    env.mock:fault { host = "cdn", status = 302, headers = { Location = st.url .. "&hop=1" } }
    assert(c:download(st, env.dir .. "/redirected.wav"))
    local redirects = only(seen, { redirect = true })
    assert.equal(1, #redirects)
    local cdn_host = env.mock.cdn_url:match("^http://([^:/]+)")
    assert.equal(cdn_host, redirects[1].from)
    assert.equal(cdn_host, redirects[1].host)
    for _, s in ipairs(strings(redirects[1])) do assert.is_nil(s:find("/", 1, true), s) end

    env.mock:fault { host = "cdn", delay_ms = 4000 }
    local before = #seen
    assert(c:download(st, env.dir .. "/stalled.wav", { timeout = 0.5 }))
    local after = {}
    for i = before + 1, #seen do after[#after + 1] = seen[i] end
    local order = {}
    for _, ev in ipairs(only(after, { stall = true, retry = true })) do order[#order + 1] = ev.kind end
    assert.same({ "stall", "retry" }, order)
    local stall = only(after, { stall = true })[1]
    assert.equal("warn", stall.level)
    assert.equal("download", stall.request)
  end)

  it("never hold the key, in any form, over a whole generate with a retry, a redirect and a journal", function()
    local journal = env.dir .. "/keyscan.jsonl"
    local c, seen = recording { journal = journal }
    env.mock:fault { method = "POST", status = 429, headers = { ["Retry-After"] = "0" } }
    env.mock:fault { method = "GET", status = 503 }
    local redirected = false
    local st = assert(c:generate(PARAMS, {
      output = env.dir .. "/keyscan.wav",
      on_status = function(s)
        if s.status == "completed" and not redirected then
          redirected = true
          env.mock:fault { host = "cdn", status = 307, headers = { Location = s.url } }
        end
      end,
    }))
    assert.truthy(st.path)
    local kinds = {}
    for _, ev in ipairs(seen) do kinds[ev.kind] = (kinds[ev.kind] or 0) + 1 end
    for _, k in ipairs { "request", "response", "retry", "redirect", "progress", "status", "journal" } do
      assert.truthy(kinds[k], "no " .. k .. " event")
    end
    local texts = strings(seen)
    for _, ev in ipairs(seen) do texts[#texts + 1] = music.format_event(ev) end
    assert_no_key(texts, "an event")
    -- Nor the audio URL's signature.
    local sig = st.url:match("Signature=([^&]+)")
    assert.truthy(sig)
    for _, s in ipairs(texts) do assert.is_nil(s:find(sig, 1, true), s) end
    -- The key was sent all along: the scan would have seen it had an event carried a header.
    local auth = env.mock:requests()[1].headers.authorization
    assert.equal("Bearer " .. KEY, auth)
  end)

  it("a hook that raises never breaks the job; log_level keeps the quieter events away", function()
    local calls = 0
    env.mock:config { key = KEY }
    local c = env.new_client { api_key = KEY, on_event = function()
      calls = calls + 1
      error("the hook's own bug")
    end }
    local st = assert(c:generate(PARAMS, { output = env.dir .. "/hook.wav" }))
    assert.truthy(st.path)
    assert.is_true(calls > 0)
    local warned = {}
    c = env.new_client { api_key = KEY, log_level = "warn", on_event = function(ev) warned[#warned + 1] = ev end }
    env.mock:fault { method = "GET", status = 503 }
    assert(c:generate(PARAMS))
    assert.is_true(#warned >= 1)
    for _, ev in ipairs(warned) do assert.equal("warn", ev.level) end
  end)

  it("format_event makes one line of any event", function()
    local cases = {
      { kind = "request", level = "debug", request = "submit", method = "POST", url = "http://h/v2/generate/audio",
        attempt = 1 },
      { kind = "response", level = "info", request = "status", method = "GET", url = "http://h/x", status = 503,
        elapsed = 0.01, request_id = "r-1", error = "server: down\r\nX-Evil: 1" },
      { kind = "retry", level = "warn", request = "download", delay = 0.5, cause = "network: reset", attempt = 1,
        max_retries = 3 },
      { kind = "redirect", level = "info", from = "a.example", host = "b.example" },
      { kind = "stall", level = "warn", bytes = 2048, reason = "nothing" },
      { kind = "progress", level = "info", bytes = 1024, total = 4096, percent = 25 },
      { kind = "status", level = "info", id = "j", status = "generating" },
      { kind = "journal", level = "debug", op = "submit", id = "j", journal = "/tmp/j" },
      { kind = "something_new", level = "info", x = 1 },
      { kind = "request", level = "debug" }, -- fields missing: still a line
    }
    for _, ev in ipairs(cases) do
      local line = music.format_event(ev)
      assert.is_string(line)
      assert.matches("^aimlmusic: " .. ev.level .. ": ", line)
      assert.is_nil(line:find("[\r\n]"), line)
    end
    assert.equal("aimlmusic: warn: retrying download in 0.5s after network: reset (retry 1 of 3)",
      music.format_event(cases[3]))
  end)
end)

describe("the example of doc/api.md", function()
  it("runs as written, printing a line per event", function()
    local root = util.repo_root()
    local page = assert(util.read_file(root .. "/doc/api.md"))
    local block = page:match("### Seeing what it does.-```lua\n(.-)```")
    assert.truthy(block, "no example under Seeing what it does")
    local script = env.dir .. "/readme_events.lua"
    util.write_file(script, block .. ("local job = assert(client:submit({ model = %q, prompt = %q, lyrics = %q }))\n"
      .. "assert(client:wait(job, { interval = 0.05 }))\n"):format(PARAMS.model, PARAMS.prompt, PARAMS.lyrics))
    local out = util.sh("cd " .. q(root) .. " && env -u AIMLMUSIC_LOG AIMLAPI_KEY=" .. q(env.mock.key)
      .. " AIMLAPI_BASE_URL=" .. q(env.mock.api_url) .. " LUA_PATH=" .. q(root .. "/lua/?.lua;" .. root
      .. "/lua/?/init.lua;" .. (os.getenv("LUA_PATH") or ";")) .. " " .. util.LUA .. " " .. q(script) .. " 2>&1")
    assert.truthy(out:find("aimlmusic: debug: POST " .. env.mock.api_url .. "/v2/generate/audio", 1, true), out)
    assert.truthy(out:find("aimlmusic: info: job [^\n]+ completed"), out)
  end)
end)

describe("AIMLMUSIC_LOG", function()
  -- Runs a generate in a child process with env before it; returns its stderr and stdout.
  local function child(envvars)
    local script = env.dir .. "/log_child.lua"
    util.write_file(script, ([[
local music = require "aimlmusic"
local c = assert(music.new { api_key = %q, base_url = %q, poll_interval = 0.05 })
local st = assert(c:generate({ model = "minimax/music-2.0", prompt = %q, lyrics = %q }, { output = %q }))
print("done " .. st.path)
]]):format(KEY, env.mock.api_url, PARAMS.prompt, PARAMS.lyrics, env.dir .. "/log_child.wav"))
    os.remove(env.dir .. "/log_child.wav")
    local root = util.repo_root()
    local err_file = env.dir .. "/log_child.err"
    local out = util.sh("cd " .. q(root) .. " && env " .. envvars .. " LUA_PATH=" .. q(root .. "/lua/?.lua;" .. root
      .. "/lua/?/init.lua;" .. (os.getenv("LUA_PATH") or ";")) .. " " .. util.LUA .. " " .. q(script) .. " 2>"
      .. q(err_file))
    return util.read_file(err_file) or "", out
  end

  it("=info writes a line per event of info and up to stderr, none with the key; unset, nothing", function()
    env.mock:config { key = KEY }
    local quiet, out = child("-u AIMLMUSIC_LOG")
    assert.matches("^done ", out)
    assert.equal("", quiet)

    env.mock:fault { method = "GET", status = 503 }
    local err
    err, out = child("AIMLMUSIC_LOG=info")
    assert.matches("^done ", out)
    local lines = {}
    for line in err:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.is_true(#lines >= 4, err)
    local saw = {}
    for _, line in ipairs(lines) do
      local level = line:match("^aimlmusic: (%a+): ")
      assert.truthy(level, line)
      assert.are_not.equal("debug", level)
      saw[level] = true
    end
    assert.truthy(saw.info and saw.warn, err)
    assert.truthy(err:find("retrying status", 1, true), err)
    assert.truthy(err:find("POST " .. env.mock.api_url .. "/v2/generate/audio -> 200", 1, true), err)
    assert.truthy(err:find("download 100%", 1, true), err)
    assert_no_key(lines, "a stderr line")

    err = child("AIMLMUSIC_LOG=debug")
    assert.truthy(err:find("aimlmusic: debug: POST ", 1, true), err)
    assert_no_key({ err }, "stderr")
  end)
end)
