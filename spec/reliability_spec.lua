-- Reliability: nothing the network, the server or the user's own process does may lose a paid
-- job, corrupt a file or leak the key. Against the mock server over loopback; crashes and a
-- full disk in child processes (spec/support/rel_child.lua).
--
-- Backoff timing is measured on a second copy of the library whose clock runs N times faster
-- than the real one (fast_music below): its backoff and Retry-After delays, in its own seconds,
-- pass N times faster in real time, so the 8 s and 120 s caps can be checked in about a second.
-- Delays are read from the mock's log of request arrival times (real seconds) times N.

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local mockctl = require "support.mockctl"
local util = require "support.util"
local socket = require "socket"
local json = require("cjson").new()

local PARAMS = util.PARAMS
local WAV = {
  model = PARAMS.model, prompt = PARAMS.prompt, lyrics = PARAMS.lyrics, audio_setting = { format = "wav" },
}

local LUA = util.LUA
local q, read_file, write_file, ls = util.q, util.read_file, util.write_file, util.ls
local mkdir, fetch, free_port, select_reqs = util.mkdir, util.fetch, util.free_port, util.select_reqs
local ROOT = util.repo_root()

-- Seconds between consecutive requests of that host and method, times `speed`.
local function gaps(reqs, host, method, speed)
  local list, out = select_reqs(reqs, host, method), {}
  for i = 2, #list do out[i - 1] = (list[i].time - list[i - 1].time) * (speed or 1) end
  return out
end

-- Every error is a table with a kind, a one-line tostring and a boolean retryable.
local function assert_error(err, kind)
  assert.is_true(music.is_error(err), "not an aimlmusic error: " .. tostring(err))
  assert.equal(kind, err.kind, tostring(err))
  assert.is_boolean(err.retryable)
  assert.is_string(err.message)
  assert.not_matches("\n", tostring(err))
end

-- A second copy of the library with a clock `speed` times faster than the real one (the speed
-- can change; the clock stays monotonic). Use it inside its own tasks, driven by run_fast, so
-- that no wait ever blocks in the kernel for one of its long (fake) seconds.
local function fast_music()
  local real_now = core.now
  local base_real, base_fake, speed = real_now(), 0, 1
  local clock = {}
  function clock.now() return base_fake + (real_now() - base_real) * speed end
  function clock.speed(s)
    base_fake, base_real, speed = clock.now(), real_now(), s
  end
  local names = { "aimlmusic", "aimlmusic.task", "aimlmusic.journal", "aimlmusic.core" }
  local saved = {}
  for _, n in ipairs(names) do
    saved[n] = package.loaded[n]
    package.loaded[n] = nil
  end
  package.loaded["aimlmusic.core"] = setmetatable({ now = clock.now }, { __index = core })
  local ok, m = pcall(require, "aimlmusic")
  for _, n in ipairs(names) do package.loaded[n] = saved[n] end
  assert(ok, m)
  return m, clock
end

local function run_fast(m, fn)
  local t = m.spawn(fn)
  local deadline = core.now() + 30
  while not t:done() and core.now() < deadline do m.step(2) end
  assert(t:done(), "the task did not finish within 30 s")
  return t:result()
end

-- A child Lua process running spec/support/rel_child.lua; `pre` is shell run before it.
local function child(pre, ...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = q((select(i, ...))) end
  local lua_path = ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;" .. (os.getenv("LUA_PATH") or ";")
  local cmd = "echo $$; cd " .. q(ROOT) .. " && " .. (pre or "") .. " exec env LUA_PATH=" .. q(lua_path) .. " "
    .. LUA .. " spec/support/rel_child.lua " .. table.concat(args, " ") .. " 2>&1"
  local p = assert(io.popen(cmd, "r"))
  local pid = assert(tonumber(p:read("*l")), "no pid from the child")
  local c = { pid = pid, lines = {} }
  -- Reads lines until one starts with prefix; returns it (nil at end of output).
  function c.until_line(prefix)
    while true do
      local line = p:read("*l")
      if not line then return nil end
      c.lines[#c.lines + 1] = line
      if line:sub(1, #prefix) == prefix then return line end
    end
  end
  function c.kill()
    os.execute("kill -9 " .. pid .. " 2>/dev/null")
    p:close()
  end
  function c.finish()
    local rest = p:read("*a")
    p:close()
    return table.concat(c.lines, "\n") .. "\n" .. rest
  end
  return c
end

local function journal_records(path)
  local out = {}
  for line in (read_file(path) or ""):gmatch("[^\n]+") do
    local ok, rec = pcall(json.decode, line)
    if ok then out[#out + 1] = rec end
  end
  return out
end

describe("reliability", function()
  local mock, client, dir, fast, clock

  setup(function()
    mock = mockctl.start()
    dir = util.tmpdir()
    fast, clock = fast_music()
  end)

  teardown(function()
    util.rm_rf(dir)
  end)

  before_each(function()
    mock:reset()
    mock:config { duration = 0.2 }
    client = assert(music.new { api_key = mock.key, base_url = mock.api_url, poll_interval = 0.05 })
  end)

  local function new_client(opts)
    local o = { api_key = mock.key, base_url = mock.api_url, poll_interval = 0.05 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return assert(music.new(o))
  end

  local function fast_client(opts)
    local o = { api_key = mock.key, base_url = mock.api_url, poll_interval = 0.05 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return assert(fast.new(o))
  end

  -- The requests the mock received after the first `before` of them.
  local function since(before)
    local all, out = mock:requests(), {}
    for i = before + 1, #all do out[#out + 1] = all[i] end
    return out
  end

  local function completed(params)
    local job = assert(client:submit(params or WAV))
    return assert(client:wait(job))
  end

  -- 1. Retries -------------------------------------------------------------------------------

  describe("retries of status polls", function()
    it("ride out connections closed without an answer", function()
      local job = assert(client:submit(PARAMS))
      mock:fault { method = "GET", action = "close", times = 2 }
      local st = assert(client:wait(job))
      assert.equal("completed", st.status)
      assert.is_true(#select_reqs(mock:requests(), "api", "GET") >= 3)
    end)

    it("ride out a poll that times out", function()
      local c = new_client { timeout = 0.3 }
      local job = assert(c:submit(PARAMS))
      mock:fault { method = "GET", delay_ms = 1500 }
      local t0 = core.now()
      local st = assert(c:wait(job))
      assert.equal("completed", st.status)
      assert.is_true(core.now() - t0 < 2.5, "took " .. (core.now() - t0) .. " s")
      assert.is_true(#select_reqs(mock:requests(), "api", "GET") >= 2)
    end)

    for _, status in ipairs({ 429, 500, 502, 503, 504 }) do
      it("ride out an HTTP " .. status, function()
        local job = assert(client:submit(PARAMS))
        mock:fault { method = "GET", status = status }
        local st = assert(client:wait(job))
        assert.equal("completed", st.status)
        local gets = select_reqs(mock:requests(), "api", "GET")
        assert.is_true(#gets >= 2)
      end)
    end

    it("give up after max_retries, with the last error, retryable", function()
      local c = fast_client { max_retries = 2 }
      clock.speed(20)
      local job = assert(run_fast(fast, function() return c:submit(PARAMS) end))
      mock:fault { method = "GET", status = 503, times = -1 }
      local st, err = run_fast(fast, function() return c:wait(job) end)
      assert.is_nil(st)
      assert_error(err, "server")
      assert.equal(503, err.status)
      assert.is_true(err.retryable)
      assert.equal(job.id, err.id)
      assert.equal(3, #select_reqs(mock:requests(), "api", "GET"))
    end)

    it("are not made with max_retries = 0", function()
      local c = new_client { max_retries = 0 }
      local job = assert(c:submit(PARAMS))
      mock:fault { method = "GET", status = 503, times = -1 }
      local st, err = c:wait(job)
      assert.is_nil(st)
      assert_error(err, "server")
      assert.equal(1, #select_reqs(mock:requests(), "api", "GET"))
    end)

    it("never follow a 401 or a 403", function()
      for _, case in ipairs({ { 401, "auth" }, { 403, "credits" } }) do
        mock:reset()
        local job = assert(client:submit(PARAMS))
        mock:fault { method = "GET", status = case[1], times = 5 }
        local st, err = client:wait(job)
        assert.is_nil(st)
        assert_error(err, case[2])
        assert.is_false(err.retryable)
        assert.equal(1, #select_reqs(mock:requests(), "api", "GET"), "HTTP " .. case[1])
      end
    end)
  end)

  describe("backoff", function()
    it("grows exponentially from 0.5 s and is capped at 8 s", function()
      local c = fast_client { max_retries = 7 }
      clock.speed(20)
      mock:config { duration = 0 }
      local job = assert(run_fast(fast, function() return c:submit(PARAMS) end))
      mock:fault { method = "GET", status = 503, times = 7 }
      local st = assert(run_fast(fast, function() return c:wait(job) end))
      assert.equal("completed", st.status)
      local g = gaps(mock:requests(), "api", "GET", 20)
      assert.equal(7, #g)
      -- Retry n waits between half and all of min(8, 0.5 * 2^(n-1)) seconds.
      local full = { 0.5, 1, 2, 4, 8, 8, 8 }
      for n = 1, 7 do
        assert.is_true(g[n] >= full[n] / 2 * 0.95, ("retry %d after %.2f s, expected at least %.2f"):format(
          n, g[n], full[n] / 2))
        -- (the upper bound allows for 100 ms of real-time latency on a loaded machine)
        assert.is_true(g[n] <= full[n] + 2, ("retry %d after %.2f s, expected at most %.2f"):format(
          n, g[n], full[n]))
      end
    end)

    it("has jitter: the first retry waits between 0.25 s and 0.5 s, not always the same", function()
      local c = fast_client { max_retries = 1 }
      clock.speed(5)
      mock:config { duration = 0 }
      local job = assert(run_fast(fast, function() return c:submit(PARAMS) end))
      local samples = {}
      for i = 1, 8 do
        local before = #mock:requests()
        mock:fault { method = "GET", status = 503 }
        assert(run_fast(fast, function() return c:wait(job) end))
        local reqs = mock:requests()
        samples[i] = (reqs[before + 2].time - reqs[before + 1].time) * 5
      end
      local lo, hi = math.huge, -math.huge
      for _, s in ipairs(samples) do
        lo, hi = math.min(lo, s), math.max(hi, s)
        assert.is_true(s >= 0.24 and s <= 1.5, "first retry after " .. s .. " s")
      end
      -- Latency only adds: without jitter every sample would be 0.5 s or more.
      local shown = table.concat(samples, ", ")
      assert.is_true(lo < 0.49, "no sample below 0.49 s: " .. shown)
      assert.is_true(hi - lo > 0.05, "samples all alike: " .. shown)
    end)

    it("waits at least a Retry-After of 1 s, and well under 5 s (real clock)", function()
      local job = assert(client:submit(PARAMS))
      mock:fault { method = "GET", status = 503, headers = { ["Retry-After"] = "1" } }
      assert(client:wait(job))
      local g = gaps(mock:requests(), "api", "GET")
      assert.is_true(g[1] >= 0.99 and g[1] < 5, "retried after " .. g[1] .. " s")
    end)

    it("honours Retry-After given in seconds", function()
      local c = fast_client()
      clock.speed(10)
      mock:config { duration = 0 }
      local job = assert(run_fast(fast, function() return c:submit(PARAMS) end))
      mock:fault { method = "GET", status = 429, headers = { ["Retry-After"] = "3" } }
      assert(run_fast(fast, function() return c:wait(job) end))
      local g = gaps(mock:requests(), "api", "GET", 10)
      assert.is_true(g[1] >= 2.95 and g[1] < 5, "retried after " .. g[1] .. " s")
    end)

    it("honours Retry-After given as an HTTP date", function()
      local c = fast_client()
      clock.speed(10)
      mock:config { duration = 0 }
      local job = assert(run_fast(fast, function() return c:submit(PARAMS) end))
      local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 5)
      mock:fault { method = "GET", status = 503, headers = { ["Retry-After"] = date } }
      assert(run_fast(fast, function() return c:wait(job) end))
      local g = gaps(mock:requests(), "api", "GET", 10)
      -- The date has whole seconds: 4 to 5 s from when it was written.
      assert.is_true(g[1] >= 3.9 and g[1] < 7, "retried after " .. g[1] .. " s")
    end)

    it("caps Retry-After at 120 s for polls", function()
      local c = fast_client()
      clock.speed(100)
      mock:config { duration = 0 }
      local job = assert(run_fast(fast, function() return c:submit(PARAMS) end))
      mock:fault { method = "GET", status = 503, headers = { ["Retry-After"] = "600" } }
      assert(run_fast(fast, function() return c:wait(job) end))
      local g = gaps(mock:requests(), "api", "GET", 100)
      assert.is_true(g[1] >= 119 and g[1] < 200, "retried after " .. g[1] .. " s")
    end)

    it("caps Retry-After at 120 s for downloads", function()
      local st = completed()
      local c = fast_client()
      clock.speed(100)
      mock:fault { host = "cdn", status = 429, headers = { ["Retry-After"] = "600" } }
      assert(run_fast(fast, function() return c:download(st, dir .. "/capped.wav") end))
      local g = gaps(mock:requests(), "cdn", "GET", 100)
      assert.is_true(g[1] >= 119 and g[1] < 200, "retried after " .. g[1] .. " s")
    end)

    it("shrugs off a Retry-After that is not a number or a date", function()
      local job = assert(client:submit(PARAMS))
      mock:fault { method = "GET", status = 503, headers = { ["Retry-After"] = "soon, maybe" } }
      mock:fault { method = "GET", status = 503, headers = { ["Retry-After"] = "-5" } }
      local st = assert(client:wait(job))
      assert.equal("completed", st.status)
      local g = gaps(mock:requests(), "api", "GET")
      assert.is_true(g[1] < 1.5 and g[2] < 2.5, "retried after " .. g[1] .. " s and " .. g[2] .. " s")
    end)

    it("never waits past the wait deadline, whatever Retry-After says", function()
      mock:config { duration = 60 }
      local job = assert(client:submit(PARAMS))
      mock:fault { method = "GET", status = 503, headers = { ["Retry-After"] = "30" } }
      local t0 = core.now()
      local st, err = client:wait(job, { timeout = 1 })
      local took = core.now() - t0
      assert.is_nil(st)
      assert_error(err, "timeout")
      assert.equal(job.id, err.id)
      assert.is_true(took >= 0.9 and took < 2.5, "took " .. took .. " s")
    end)
  end)

  describe("retries of downloads", function()
    it("ride out a 503 and a 429 from the CDN", function()
      local st = completed()
      mock:fault { host = "cdn", status = 503 }
      mock:fault { host = "cdn", status = 429, headers = { ["Retry-After"] = "0" } }
      local path = dir .. "/retried.wav"
      assert(client:download(st, path))
      assert.equal(3, #select_reqs(mock:requests(), "cdn", "GET"))
      assert.equal(fetch(st.url), read_file(path))
    end)

    it("ride out a connection closed without an answer", function()
      local st = completed()
      mock:fault { host = "cdn", action = "close" }
      local path = dir .. "/closed.wav"
      assert(client:download(st, path))
      assert.equal(fetch(st.url), read_file(path))
    end)

    it("ride out a CDN that stalls past the timeout", function()
      local st = completed()
      local c = new_client { timeout = 1 }
      mock:fault { host = "cdn", delay_ms = 4000 }
      local path = dir .. "/stalled.wav"
      local t0 = core.now()
      assert(c:download(st, path))
      assert.is_true(core.now() - t0 < 3.8, "took " .. (core.now() - t0) .. " s")
      assert.equal(fetch(st.url), read_file(path))
    end)

    it("give up after max_retries, leaving no file", function()
      local st = completed()
      local c = new_client { max_retries = 1 }
      local sub = mkdir(dir .. "/giveup")
      mock:fault { host = "cdn", status = 503, times = -1 }
      local info, err = c:download(st, sub .. "/x.wav")
      assert.is_nil(info)
      assert_error(err, "server")
      assert.is_true(err.retryable)
      assert.equal(2, #select_reqs(mock:requests(), "cdn", "GET"))
      assert.same({}, ls(sub))
    end)

    it("never follow a 401 from the CDN", function()
      local st = completed()
      mock:fault { host = "cdn", status = 401, times = 5 }
      local info, err = client:download(st.url, dir .. "/401.wav")
      assert.is_nil(info)
      assert_error(err, "auth")
      assert.is_false(err.retryable)
      assert.equal(1, #select_reqs(mock:requests(), "cdn", "GET"))
    end)
  end)

  describe("retries of submits", function()
    it("repeat a submit whose connection was refused, once the server is there", function()
      local port = free_port()
      local c = assert(music.new { api_key = "k", base_url = "http://127.0.0.1:" .. port, max_retries = 3 })
      local task = music.spawn(function() return c:submit(PARAMS) end)
      local t0 = core.now()
      while core.now() - t0 < 0.1 do music.step(10) end
      assert.is_false(task:done(), "the refused submit was not retried")
      local srv = assert(socket.bind("127.0.0.1", port))
      srv:settimeout(0)
      local conn, buf, answered, conns = nil, "", false, 0
      local body = json.encode { id = "abc:minimax/music-2.0", status = "queued" }
      local deadline = core.now() + 5
      while not task:done() and core.now() < deadline do
        music.step(5)
        local c2 = srv:accept()
        if c2 then
          conns = conns + 1
          conn = c2
          conn:settimeout(0)
        end
        if conn and not answered then
          local data, _, partial = conn:receive(65536)
          buf = buf .. (data or partial or "")
          local head_end = buf:find("\r\n\r\n", 1, true)
          local len = tonumber(buf:match("[Cc]ontent%-[Ll]ength:%s*(%d+)") or "")
          if head_end and len and #buf >= head_end + 3 + len then
            answered = true
            conn:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " .. #body
              .. "\r\n\r\n" .. body)
          end
        end
      end
      srv:close()
      if conn then conn:close() end
      local job, err = task:result()
      assert.is_table(job, tostring(err))
      assert.equal("abc:minimax/music-2.0", job.id)
      assert.equal(1, conns)
      assert.matches("^POST /v2/generate/audio HTTP/1%.1\r\n", buf)
    end)

    it("repeat a submit answered 429, after its Retry-After, creating one job", function()
      local c = fast_client()
      clock.speed(10)
      mock:fault { method = "POST", status = 429, headers = { ["Retry-After"] = "2" } }
      local job = assert(run_fast(fast, function() return c:submit(PARAMS) end))
      assert.equal("queued", job.status)
      local g = gaps(mock:requests(), "api", "POST", 10)
      assert.equal(1, #g)
      assert.is_true(g[1] >= 1.95 and g[1] < 4, "retried after " .. g[1] .. " s")
      assert.equal(1, #mock:jobs())
    end)

    it("never repeat a submit that timed out: the job may exist, and it does", function()
      local c = new_client { timeout = 0.3 }
      mock:fault { method = "POST", delay_ms = 1000 }
      local job, err = c:submit(PARAMS)
      assert.is_nil(job)
      assert_error(err, "timeout")
      assert.is_false(err.retryable)
      assert.equal(1, #select_reqs(mock:requests(), "api", "POST"))
      assert.equal(1, #mock:jobs())
    end)

    it("never repeat a submit whose connection closed after sending", function()
      mock:fault { method = "POST", action = "close", times = 5 }
      local job, err = client:submit(PARAMS)
      assert.is_nil(job)
      assert_error(err, "network")
      assert.is_false(err.retryable)
      assert.equal(1, #select_reqs(mock:requests(), "api", "POST"))
    end)

    for _, status in ipairs({ 500, 502, 503, 504 }) do
      it("never repeat a submit answered " .. status, function()
        mock:fault { method = "POST", status = status, times = 5 }
        local job, err = client:submit(PARAMS)
        assert.is_nil(job)
        assert_error(err, "server")
        assert.is_false(err.retryable)
        assert.equal(1, #select_reqs(mock:requests(), "api", "POST"))
      end)
    end

    it("never repeat a submit answered 401 or 403", function()
      for _, case in ipairs({ { 401, "auth" }, { 403, "credits" } }) do
        mock:reset()
        mock:fault { method = "POST", status = case[1], times = 5 }
        local job, err = client:submit(PARAMS)
        assert.is_nil(job)
        assert_error(err, case[2])
        assert.is_false(err.retryable)
        assert.equal(1, #select_reqs(mock:requests(), "api", "POST"))
      end
    end)
  end)

  describe("every error", function()
    local STATUSES = { 400, 401, 402, 403, 404, 408, 409, 418, 429, 500, 502, 503, 504 }
    local RETRYABLE = {
      submit = { [429] = true },
      status = { [408] = true, [429] = true, [500] = true, [502] = true, [503] = true, [504] = true },
      download = { [408] = true, [429] = true, [500] = true, [502] = true, [503] = true, [504] = true },
    }

    it("says whether it is retryable: only 429 for a submit; 408, 429 and 5xx otherwise", function()
      for _, kind in ipairs({ "submit", "status", "download" }) do
        for _, status in ipairs(STATUSES) do
          local r, err = core.classify(kind, status, "")
          assert.is_nil(r)
          assert.is_boolean(err.retryable, kind .. " " .. status)
          assert.equal(RETRYABLE[kind][status] or false, err.retryable, kind .. " " .. status)
        end
      end
    end)

    it("from the CDN, a 403 is an expired URL (http), from the API it is credits", function()
      assert.equal("http", select(2, core.classify("download", 403, "<Error/>")).kind)
      assert.equal("credits", select(2, core.classify("status", 403, "")).kind)
      assert.equal("credits", select(2, core.classify("submit", 403, "")).kind)
    end)
  end)

  -- 2. Deadlines ------------------------------------------------------------------------------

  describe("deadlines", function()
    it("wait ends at its deadline with the job id, and waiting again gets the job", function()
      mock:config { duration = 1 }
      local job = assert(client:submit(PARAMS))
      local t0 = core.now()
      local st, err = client:wait(job, { timeout = 0.3 })
      local took = core.now() - t0
      assert.is_nil(st)
      assert_error(err, "timeout")
      assert.equal(job.id, err.id)
      assert.matches(job.id, tostring(err), 1, true)
      assert.is_true(took >= 0.25 and took < 1.2, "took " .. took .. " s")
      st = assert(client:wait(err.id))
      assert.equal("completed", st.status)
      assert.equal(1, #select_reqs(mock:requests(), "api", "POST"))
    end)

    it("wait ends at its deadline even while a poll hangs", function()
      mock:config { duration = 30 }
      local job = assert(client:submit(PARAMS))
      mock:fault { method = "GET", delay_ms = 3000 }
      local t0 = core.now()
      local st, err = client:wait(job, { timeout = 0.5 })
      local took = core.now() - t0
      assert.is_nil(st)
      assert_error(err, "timeout")
      assert.equal(job.id, err.id)
      assert.is_true(took < 1.5, "wait{timeout = 0.5} returned after " .. took .. " s")
    end)

    it("a request ends at the client's timeout", function()
      local c = new_client { timeout = 0.3 }
      mock:fault { method = "GET", delay_ms = 3000 }
      local t0 = core.now()
      local st, err = c:status("x:minimax/music-2.0")
      local took = core.now() - t0
      assert.is_nil(st)
      assert_error(err, "timeout")
      assert.equal("OPERATION_TIMEDOUT", err.code)
      assert.is_true(err.retryable)
      assert.is_true(took >= 0.25 and took < 1.5, "took " .. took .. " s")
    end)

    it("a connection ends at the client's connect_timeout", function()
      -- A listener that never accepts, with its backlog full: new connections hang.
      local srv = assert(socket.bind("127.0.0.1", 0, 0))
      local _, port = srv:getsockname()
      local fill = {}
      for i = 1, 4 do
        fill[i] = socket.tcp()
        fill[i]:settimeout(0)
        fill[i]:connect("127.0.0.1", port)
      end
      local c = assert(music.new {
        api_key = "k", base_url = "http://127.0.0.1:" .. port, connect_timeout = 0.3, timeout = 20, max_retries = 0,
      })
      local t0 = core.now()
      local st, err = c:status("x:minimax/music-2.0")
      local took = core.now() - t0
      for i = 1, 4 do fill[i]:close() end
      srv:close()
      assert.is_nil(st)
      assert_error(err, "timeout")
      assert.is_true(took >= 0.25 and took < 2, "took " .. took .. " s")
    end)

    it("task:cancel() stops a download at once and leaves no file", function()
      local st = completed()
      local sub = mkdir(dir .. "/cancel")
      mock:fault { host = "cdn", action = "slow", delay_ms = 3000 }
      local got = 0
      local task = music.spawn(function()
        return client:download(st, sub .. "/x.wav", { on_progress = function(done) got = done end })
      end)
      local deadline = core.now() + 5
      while got == 0 and core.now() < deadline do music.step(10) end
      assert.is_true(got > 0, "no bytes arrived")
      assert.equal(1, #ls(sub)) -- the temporary file
      local t0 = core.now()
      task:cancel()
      assert.is_true(core.now() - t0 < 0.25)
      assert.is_true(task:done())
      assert.same({ nil, "cancelled" }, { task:result() })
      assert.same({}, ls(sub))
      local t1 = core.now()
      while core.now() - t1 < 0.3 do music.step(10) end
      assert.same({}, ls(sub))
      assert.equal(1, #select_reqs(mock:requests(), "cdn", "GET"))
    end)

    it("task:cancel() during wait stops the polling", function()
      mock:config { duration = 30 }
      local job = assert(client:submit(PARAMS))
      local task = music.spawn(function() return client:wait(job, { interval = 0.1 }) end)
      local t0 = core.now()
      while core.now() - t0 < 0.35 do music.step(10) end
      assert.is_false(task:done())
      task:cancel()
      local polls = #select_reqs(mock:requests(), "api", "GET")
      assert.is_true(polls >= 2)
      local t1 = core.now()
      while core.now() - t1 < 0.4 do music.step(10) end
      assert.equal(polls, #select_reqs(mock:requests(), "api", "GET"))
      assert.equal(0, music.step(0))
    end)
  end)

  -- 3. The journal and resume after a crash ---------------------------------------------------

  describe("the journal", function()
    local jdir
    before_each(function()
      jdir = dir .. "/j" .. tostring(math.random(1, 1e9))
      mkdir(jdir)
    end)

    it("holds each submitted job (id, model, output, time) when submit returns", function()
      local jpath = jdir .. "/jobs.journal"
      local c = new_client { journal = jpath }
      local before = os.time()
      local job = assert(c:submit(PARAMS, { output = jdir .. "/track.mp3" }))
      local recs = journal_records(jpath)
      assert.equal(1, #recs)
      assert.equal("submit", recs[1].op)
      assert.equal(job.id, recs[1].id)
      assert.equal(PARAMS.model, recs[1].model)
      assert.equal(jdir .. "/track.mp3", recs[1].output)
      assert.is_true(recs[1].time >= before - 1 and recs[1].time <= os.time() + 1)
      local pending = c:pending()
      assert.equal(1, #pending)
      assert.equal(job.id, pending[1].id)
      assert.equal(jdir .. "/track.mp3", pending[1].output)
      assert.equal(PARAMS.model, pending[1].model)
      -- A second client on the same journal (another process) sees it too.
      assert.equal(job.id, new_client({ journal = jpath }):pending()[1].id)
    end)

    it("marks a job finished once generate has delivered it, and never holds the key", function()
      local jpath = jdir .. "/jobs.journal"
      local c = new_client { journal = jpath }
      local st = assert(c:generate(PARAMS, { output = jdir .. "/track.mp3" }))
      assert.equal(jdir .. "/track.mp3", st.path)
      assert.same({}, c:pending())
      local recs = journal_records(jpath)
      assert.equal("delivered", recs[#recs].op)
      assert.equal(st.id, recs[#recs].id)
      assert.not_matches(mock.key, read_file(jpath), 1, true)
    end)

    it("marks a job without output finished once wait sees it completed", function()
      local c = new_client { journal = jdir .. "/jobs.journal" }
      local job = assert(c:submit(PARAMS))
      assert.equal(1, #c:pending())
      assert(c:wait(job))
      assert.same({}, c:pending())
    end)

    it("keeps a job pending when generate's wait reaches its deadline, for resume to finish", function()
      mock:config { duration = 0.8 }
      local jpath, out = jdir .. "/jobs.journal", jdir .. "/late.mp3"
      local c = new_client { journal = jpath }
      local st, err = c:generate(PARAMS, { output = out, timeout = 0.2 })
      assert.is_nil(st)
      assert_error(err, "timeout")
      local pending = c:pending()
      assert.equal(1, #pending)
      assert.equal(err.id, pending[1].id)
      local results = new_client({ journal = jpath }):resume { interval = 0.05 }
      assert.equal(1, #results)
      assert.is_nil(results[1].err, results[1].err and tostring(results[1].err))
      assert.equal(out, results[1].path)
      assert.equal(1, #select_reqs(mock:requests(), "api", "POST"))
      assert.same({}, c:pending())
    end)

    it("keeps a job pending while its download has not succeeded", function()
      local c = new_client { journal = jdir .. "/jobs.journal", max_retries = 0 }
      mock:fault { host = "cdn", status = 503 }
      local st, err = c:generate(PARAMS, { output = jdir .. "/track.mp3" })
      assert.is_nil(st)
      assert_error(err, "server")
      local pending = c:pending()
      assert.equal(1, #pending)
      assert.equal(err.id, pending[1].id)
    end)

    it("lets a process killed with SIGKILL while waiting be resumed: one POST, the whole track", function()
      mock:config { duration = 1.5 }
      local jpath, out = jdir .. "/jobs.journal", jdir .. "/track.wav"
      local proc = child(nil, "generate", mock.api_url, mock.key, jpath, out)
      local line = proc.until_line("status ")
      if not line then error("the child ended early:\n" .. proc.finish()) end
      -- submit has returned: the job must be on disk already.
      local recs = journal_records(jpath)
      proc.kill()
      assert.equal(1, #recs)
      assert.equal("submit", recs[1].op)
      assert.equal(out, recs[1].output)
      assert.is_nil(read_file(out))

      local c = new_client { journal = jpath }
      local pending = c:pending()
      assert.equal(1, #pending)
      assert.equal(recs[1].id, pending[1].id)
      local results = c:resume { interval = 0.05 }
      assert.equal(1, #results)
      local r = results[1]
      assert.is_nil(r.err, r.err and tostring(r.err))
      assert.equal(recs[1].id, r.id)
      assert.equal(out, r.path)
      assert.equal(fetch(r.st.url), read_file(out))
      assert.equal("RIFF", read_file(out):sub(1, 4))
      assert.equal(1, #select_reqs(mock:requests(), "api", "POST"))
      assert.same({}, c:pending())
      assert.same({}, new_client({ journal = jpath }):resume())
    end)

    it("lets a process killed with SIGKILL mid-download be resumed, with no torn file at the target", function()
      mock:config { duration = 0.1 }
      mock:fault { host = "cdn", action = "slow", delay_ms = 3000 }
      local jpath, out = jdir .. "/jobs.journal", jdir .. "/track.wav"
      local proc = child(nil, "generate", mock.api_url, mock.key, jpath, out)
      local line = proc.until_line("progress ")
      if not line then error("the child ended early:\n" .. proc.finish()) end
      proc.kill()
      assert.is_nil(read_file(out))
      local function partials()
        local n = 0
        for name in require("lfs").dir(jdir) do
          if name:match("%.part%-") then n = n + 1 end
        end
        return n
      end
      assert.equal(1, partials()) -- what the killed download left beside the target
      local c = new_client { journal = jpath }
      local results = c:resume { interval = 0.05 }
      assert.equal(1, #results)
      assert.is_nil(results[1].err, results[1].err and tostring(results[1].err))
      assert.equal(fetch(results[1].st.url), read_file(out))
      assert.equal(1, #select_reqs(mock:requests(), "api", "POST"))
      assert.same({}, c:pending())
      assert.equal(0, partials())
    end)

    it("survives a torn write: the torn line is skipped and does not swallow the next record", function()
      local jpath = jdir .. "/jobs.journal"
      local a = assert(client:submit(PARAMS))
      local good = json.encode { op = "submit", id = a.id, model = PARAMS.model, output = jdir .. "/a.mp3",
                                 time = os.time() }
      -- A crash in the middle of an append: half a record, no newline.
      write_file(jpath, good .. "\n" .. '{"op":"submit","id":"torn-')
      local c = new_client { journal = jpath }
      local pending = c:pending()
      assert.equal(1, #pending)
      assert.equal(a.id, pending[1].id)
      local b = assert(c:submit(PARAMS, { output = jdir .. "/b.mp3" }))
      pending = new_client({ journal = jpath }):pending()
      assert.equal(2, #pending)
      assert.equal(a.id, pending[1].id)
      assert.equal(b.id, pending[2].id)
      assert.equal(jdir .. "/b.mp3", pending[2].output)
      local results = c:resume { interval = 0.05 }
      assert.equal(2, #results)
      for _, r in ipairs(results) do assert.is_nil(r.err, r.err and tostring(r.err)) end
      assert.is_string(read_file(jdir .. "/a.mp3"))
      assert.is_string(read_file(jdir .. "/b.mp3"))
      assert.same({}, c:pending())
      assert.equal(2, #select_reqs(mock:requests(), "api", "POST"))
    end)

    it("resume marks a failed job and an unknown job finished, with their errors", function()
      local jpath = jdir .. "/jobs.journal"
      mock:fault { job_error = { name = "GenerationFailed", message = "moderation" } }
      local failed = assert(client:submit(PARAMS))
      write_file(jpath, json.encode { op = "submit", id = failed.id, model = PARAMS.model, time = os.time() } .. "\n"
        .. json.encode { op = "submit", id = "gone:minimax/music-2.0", model = PARAMS.model, time = os.time() } .. "\n")
      local c = new_client { journal = jpath }
      local results = c:resume { interval = 0.05 }
      assert.equal(2, #results)
      assert_error(results[1].err, "job_failed")
      assert.equal("GenerationFailed", results[1].err.code)
      assert_error(results[2].err, "not_found")
      assert.same({}, c:pending())
    end)

    it("resume keeps a file it cannot tell is the job's as it is, and the job pending", function()
      local jpath, out = jdir .. "/jobs.journal", jdir .. "/kept.mp3"
      local job = assert(client:submit(PARAMS))
      write_file(jpath, json.encode { op = "submit", id = job.id, model = PARAMS.model, output = out,
                                      time = os.time() } .. "\n")
      write_file(out, "delivered")
      local c = new_client { journal = jpath }
      local results = c:resume { interval = 0.05 }
      assert.equal(1, #results)
      assert_error(results[1].err, "io")
      assert.equal("EEXIST", results[1].err.code)
      assert.is_nil(results[1].path)
      assert.equal("delivered", read_file(out))
      assert.equal(1, #c:pending())
    end)

    it("a journal that cannot be written does not lose the paid job", function()
      write_file(jdir .. "/file", "x")
      local c = new_client { journal = jdir .. "/file/jobs.journal" }
      local job, err = c:submit(PARAMS)
      assert.is_table(job, err and tostring(err))
      assert.matches(":minimax/music%-2%.0$", job.id)
      assert_error(job.journal_error, "io")
      assert.equal(1, #select_reqs(mock:requests(), "api", "POST"))
    end)
  end)

  -- 4. Downloads ------------------------------------------------------------------------------

  describe("downloads", function()
    it("resume a cut transfer with Range where the server allows it", function()
      local st = completed()
      local full = fetch(st.url)
      local before = #mock:requests()
      mock:fault { host = "cdn", action = "truncate" }
      local path = dir .. "/resumed.wav"
      local info = assert(client:download(st, path))
      assert.equal(#full, info.bytes)
      assert.equal(full, read_file(path))
      local cdn = select_reqs(since(before), "cdn", "GET")
      assert.equal(2, #cdn)
      assert.is_nil(cdn[1].headers.range)
      local from = tonumber((cdn[2].headers.range or ""):match("^bytes=(%d+)%-$"))
      assert.is_number(from, "second request without Range: " .. tostring(cdn[2].headers.range))
      assert.is_true(from > 0 and from < #full)
    end)

    it("start over where the server ignores Range", function()
      local st = completed()
      local full = fetch(st.url)
      local before = #mock:requests()
      local sub = mkdir(dir .. "/over")
      mock:fault { host = "cdn", action = "truncate" }
      -- The same bytes again, 200 and whole: a server that does not do ranges.
      mock:fault { host = "cdn", status = 200, body = full, headers = { ["Content-Type"] = "audio/wav" } }
      local info = assert(client:download(st, sub .. "/x.wav"))
      assert.equal(#full, info.bytes)
      assert.equal(full, read_file(sub .. "/x.wav"))
      assert.same({ "x.wav" }, ls(sub))
      local cdn = select_reqs(since(before), "cdn", "GET")
      assert.equal(3, #cdn)
      assert.is_string(cdn[2].headers.range)
      assert.is_nil(cdn[3].headers.range)
    end)

    it("refuse a body shorter than its Content-Length, leaving no file", function()
      local st = completed()
      local sub = mkdir(dir .. "/short")
      local c = new_client { max_retries = 1 }
      mock:fault { host = "cdn", status = 200, body = "RIFF0123", times = -1,
                   headers = { ["Content-Length"] = "1000", Connection = "close" } }
      local info, err = c:download(st, sub .. "/x.wav")
      assert.is_nil(info)
      assert.is_true(music.is_error(err))
      assert.is_boolean(err.retryable)
      assert.same({}, ls(sub))
    end)

    it("refresh an expired audio URL with one status call and retry", function()
      local st = completed()
      local fresh = st.url
      st.url = fresh:gsub("Signature=%x+", "Signature=0000")
      assert.not_equal(fresh, st.url)
      local path = dir .. "/refreshed.wav"
      local before = #mock:requests()
      local info = assert(client:download(st, path))
      local after = since(before)
      assert.equal(fresh, st.url)
      assert.equal(fetch(fresh), read_file(path))
      assert.equal(info.bytes, #read_file(path))
      assert.equal(1, #select_reqs(after, "api", "GET"))
      assert.equal(0, #select_reqs(after, "api", "POST"))
      assert.equal(2, #select_reqs(after, "cdn", "GET"))
    end)

    it("make no status call for a 403 on a bare URL, and report kind http", function()
      local st = completed()
      local before = #select_reqs(mock:requests(), "api")
      mock:fault { host = "cdn", status = 403, body = "<Error>AccessDenied</Error>", times = 5 }
      local info, err = client:download(st.url, dir .. "/bare403.wav")
      assert.is_nil(info)
      assert_error(err, "http")
      assert.equal(403, err.status)
      assert.equal(before, #select_reqs(mock:requests(), "api"))
    end)

    it("give kind io, not retried, and remove the temporary file when the disk is full", function()
      local st = completed()
      local sub = mkdir(dir .. "/full")
      -- 64 blocks of 512 bytes: the 170 KiB WAV does not fit.
      local proc = child("trap '' XFSZ; ulimit -f 64;", "download", mock.api_url, mock.key, st.url, sub .. "/x.wav")
      local out = proc.finish()
      local kind, code = out:match("result (%S+) (%S+)")
      assert.equal("io", kind, out)
      assert.equal("WRITE_ERROR", code, out)
      assert.matches("File too large", out, 1, true)
      assert.same({}, ls(sub))
      assert.equal(1, #select_reqs(mock:requests(), "cdn", "GET"))
    end)

    it("give kind io when the directory cannot hold the file", function()
      local st = completed()
      write_file(dir .. "/plain", "x")
      for _, path in ipairs({ dir .. "/plain/x.wav", "/proc/aimlmusic-test.wav" }) do
        local info, err = client:download(st, path)
        assert.is_nil(info, path)
        assert_error(err, "io")
        assert.is_nil(read_file(path))
      end
      assert.equal("x", read_file(dir .. "/plain"))
    end)
  end)

  -- 6. Hostile input --------------------------------------------------------------------------

  describe("hostile input", function()
    it("refuses API keys with CR, LF or other control characters", function()
      for _, key in ipairs({ "abc\r\nX-Evil: 1", "abc\n", "abc\r", "ab\0cd", "ab\tcd", "ab\27cd", "ab\127cd",
                             "ab\1cd", "\31abcd" }) do
        local c, err = music.new { api_key = key, base_url = mock.api_url }
        assert.is_nil(c, ("%q"):format(key))
        assert_error(err, "config")
        assert.not_matches(key, tostring(err), 1, true)
      end
      assert.same({}, mock:requests())
    end)

    local NEST = function(depth) return ("["):rep(depth) .. ("]"):rep(depth) end
    local PROTOCOL = {
      { "status a number", '{"id":"a:m","status":5}' },
      { "status null", '{"id":"a:m","status":null}' },
      { "no status", '{"id":"a:m"}' },
      { "no id", '{"status":"queued"}' },
      { "id a number", '{"id":7,"status":"queued"}' },
      { "audio_file a string", '{"id":"a:m","status":"completed","audio_file":"https://cdn.example/x.mp3"}' },
      { "audio_file a list", '{"id":"a:m","status":"completed","audio_file":["https://cdn.example/x.mp3"]}' },
      { "audio_file.url a number", '{"id":"a:m","status":"completed","audio_file":{"url":5}}' },
      { "audio_file.url not http(s)", '{"id":"a:m","status":"completed","audio_file":{"url":"file:///etc/passwd"}}' },
      { "completed without audio_file", '{"id":"a:m","status":"completed"}' },
      { "completed without a URL", '{"id":"a:m","status":"completed","audio_file":{}}' },
      { "completed with a null URL", '{"id":"a:m","status":"completed","audio_file":{"url":null}}' },
      { "a list", '[{"id":"a:m","status":"queued"}]' },
      { "a string", '"queued"' },
      { "null", "null" },
      { "a number", "42" },
      { "empty", "" },
      { "not JSON", "<html><body>502 Bad Gateway</body></html>" },
      { "truncated", '{"id":"a:m","status":"que' },
      { "trailing garbage", '{"id":"a:m","status":"queued"} }{' },
      { "NaN", '{"id":"a:m","status":"queued","x":NaN}' },
      { "nested 65 deep", '{"id":"a:m","status":"queued","x":' .. NEST(64) .. "}" },
      { "nested 100000 deep", '{"id":"a:m","status":"queued","x":' .. NEST(100000) .. "}" },
      { "invalid UTF-8 escapes", '{"id":"a:m","status":"queued","x":"\\ud800\\udc"}' },
    }

    for _, case in ipairs(PROTOCOL) do
      it("classifies a status body that is " .. case[1] .. " as protocol, without raising", function()
        local ok, st, err = pcall(core.classify, "status", 200, case[2])
        assert.is_true(ok, tostring(st))
        assert.is_nil(st)
        assert_error(err, "protocol")
        assert.is_false(err.retryable)
      end)
    end

    it("accepts a body nested 64 deep", function()
      local st = assert(core.classify("status", 200, '{"id":"a:m","status":"queued","x":' .. NEST(63) .. "}"))
      assert.equal("queued", st.status)
    end)

    it("classifies a submit answer without id or status as protocol", function()
      for _, body in ipairs({ '{"status":"queued"}', '{"id":"a:m"}', '{"id":"a:m","status":1}', "[]" }) do
        local job, err = core.classify("submit", 200, body)
        assert.is_nil(job, body)
        assert_error(err, "protocol")
      end
    end)

    it("survives ill-typed optional fields: ignored, or a protocol error, never a raise", function()
      local bodies = {
        '{"id":"a:m","status":"queued","extra_info":"x","meta":5,"error":7,"trace_id":9}',
        '{"id":"a:m","status":"completed","audio_file":{"url":"https://c.example/a"},"extra_info":'
          .. '{"music_duration":1e308,"bitrate":"x","music_size":-1},"meta":{"usage":[1]}}',
        '{"id":"a:m","status":"error","error":{"name":5,"message":{}}}',
      }
      for _, body in ipairs(bodies) do
        local ok, st, err = pcall(core.classify, "status", 200, body)
        assert.is_true(ok, tostring(st))
        if st then
          assert.is_string(st.status)
          if st.trace_id ~= nil then assert.is_string(st.trace_id) end
        else
          assert_error(err, "protocol")
        end
      end
    end)

    it("keeps the kind of an HTTP error whatever its body", function()
      for _, body in ipairs({ NEST(100000), "<html>", ('{"message":[' .. ('"x",'):rep(5000) .. '"y"]}'),
                              '{"message":[1,{},null,"prompt bad"],"requestId":7}' }) do
        local ok, r, err = pcall(core.classify, "status", 500, body)
        assert.is_true(ok, tostring(r))
        assert.is_nil(r)
        assert_error(err, "server")
        assert.is_true(err.retryable)
      end
      local _, err = core.classify("submit", 400, '{"message":[1,{},null,"prompt bad"]}')
      assert_error(err, "validation")
      assert.same({ { field = "prompt", message = "prompt bad" } }, err.fields)
    end)

    it("turns a status body over 1 MiB into a protocol error, over the wire", function()
      local job = assert(client:submit(PARAMS))
      local big = json.encode { id = job.id, status = "queued", pad = ("x"):rep(1024 * 1024 + 10) }
      mock:fault { method = "GET", status = 200, body = big, headers = { ["Content-Type"] = "application/json" } }
      local st, err = client:status(job.id)
      assert.is_nil(st)
      assert_error(err, "protocol")
      assert.equal(job.id, err.id)
    end)

    it("turns a body nested 65 deep into a protocol error, over the wire", function()
      local job = assert(client:submit(PARAMS))
      local body = '{"id":"' .. job.id .. '","status":"queued","x":' .. NEST(65) .. "}"
      mock:fault { method = "GET", status = 200, body = body }
      local st, err = client:status(job.id)
      assert.is_nil(st)
      assert_error(err, "protocol")
    end)

    it("ends wait with a protocol error on a wrongly shaped poll, not a crash", function()
      for _, body in ipairs({ { status = 5 }, { status = "completed", audio_file = "https://x.example/a" },
                              { status = "completed" } }) do
        mock:reset()
        local job = assert(client:submit(PARAMS))
        body.id = job.id
        mock:fault { method = "GET", status = 200, json = body }
        local ok, st, err = pcall(client.wait, client, job)
        assert.is_true(ok, tostring(st))
        assert.is_nil(st)
        assert_error(err, "protocol")
      end
    end)

    it("ends wait with a protocol error on a poll that is not JSON", function()
      local job = assert(client:submit(PARAMS))
      mock:fault { method = "GET", action = "garbage" }
      local st, err = client:wait(job)
      assert.is_nil(st)
      assert_error(err, "protocol")
    end)

    it("never repeats a submit whose answer is not what the API documents", function()
      mock:fault { method = "POST", status = 200, json = { id = 5, status = "queued" }, times = 5 }
      local job, err = client:submit(PARAMS)
      assert.is_nil(job)
      assert_error(err, "protocol")
      assert.equal(1, #select_reqs(mock:requests(), "api", "POST"))
    end)

    it("counts unknown non-terminal statuses such as waiting as pending", function()
      local job = assert(client:submit(PARAMS))
      mock:fault { method = "GET", status = 200, json = { id = job.id, status = "waiting" }, times = 2 }
      mock:fault { method = "GET", status = 200, json = { id = job.id, status = "processing" } }
      local seen = {}
      local st = assert(client:wait(job, { on_status = function(s) seen[#seen + 1] = s.status end }))
      assert.equal("completed", st.status)
      assert.equal("waiting", seen[1])
      assert.equal("processing", seen[2])
      assert.equal("completed", seen[#seen])
    end)
  end)

  -- 7. Property: random parameters through validate --------------------------------------------

  describe("validate on 1,000 random parameter tables", function()
    -- Each generator returns value, problem: problem names the field validate must report, or nil.
    local rnd = math.random
    local CHARS = { "a", "Z", " ", "\n", "é", "ß", "€", "中", "😀", "𝄞" }
    local function pick(list) return list[rnd(1, #list)] end

    local function text(n)
      local t = {}
      for i = 1, n do t[i] = pick(CHARS) end
      return table.concat(t)
    end

    local function text_value(name, max)
      local r = rnd(1, 40)
      if r == 1 then return nil, name end
      if r == 2 then return pick({ 42, true, {}, print, 0 / 0 }), name end
      if r == 3 then return "\255" .. text(20), name end
      local n = rnd(10, math.min(max, 400))
      if r <= 10 then n = pick({ 0, 1, 9, 10, 11, max - 1, max, max + 1, rnd(0, max + 50) }) end
      return text(n), (n < 10 or n > max) and name or nil
    end

    local function enum_value(name, good, bad)
      if rnd(1, 3) == 1 then return nil, nil end
      if rnd(1, 8) == 1 then return pick(bad), name end
      return pick(good), nil
    end

    local function audio_setting(problems)
      local r = rnd(1, 16)
      if r == 1 then return nil end
      if r == 2 then
        problems["audio_setting"] = true
        return pick({ "mp3", 5, true })
      end
      local as = {}
      local p
      as.format, p = enum_value("audio_setting.format", { "mp3", "wav", "pcm" }, { "ogg", "", 1, "MP3" })
      if p then problems[p] = true end
      local rate_key = rnd(1, 2) == 1 and "sample_rate" or "audio_sample_rate"
      as[rate_key], p = enum_value("audio_setting.sample_rate", { 16000, 24000, 32000, 44100, 44100.0 },
        { 22050, 44100.5, "44100", -1, 1 / 0, 0 / 0 })
      if p then problems[p] = true end
      as.bitrate, p = enum_value("audio_setting.bitrate", { 32000, 64000, 128000, 256000 },
        { 1000, "128000", 128000.5, {} })
      if p then problems[p] = true end
      if rnd(1, 12) == 1 then
        as.volume = 1
        problems["audio_setting.volume"] = true
      end
      return as
    end

    local function random_params()
      local problems, params = {}, {}
      local p
      local model = rnd(1, 20)
      if model <= 18 then
        params.model = model <= 9 and "minimax/music-2.0" or "minimax/music-1.5"
      else
        params.model = pick({ "minimax/music-3.0", "", 5, false })
        problems.model = true
      end
      local max = params.model == "minimax/music-1.5" and 300 or 2000
      params.prompt, p = text_value("prompt", max)
      if p then problems[p] = true end
      params.lyrics, p = text_value("lyrics", 3000)
      if p then problems[p] = true end
      params.audio_setting = audio_setting(problems)
      local extra = rnd(1, 20)
      if extra == 1 then
        params.lyric = "typo"
        problems.lyric = true
      elseif extra == 2 then
        params[1] = "array item"
        problems["[1]"] = true
      end
      if problems.model then problems = { model = true } end -- nothing else is checked then
      return params, problems
    end

    it("never raise, accept exactly the valid ones, and name every refused field", function()
      local seed = os.time()
      math.randomseed(seed)
      local refused, accepted = 0, 0
      for i = 1, 1000 do
        local params, problems = random_params()
        local ok, res, err = pcall(music.validate, params)
        local where = ("case %d (seed %d)"):format(i, seed)
        assert.is_true(ok, where .. ": raised " .. tostring(res))
        if res == true then
          accepted = accepted + 1
          assert.is_nil(next(problems), where .. ": accepted although " .. tostring(next(problems)) .. " is wrong")
        else
          refused = refused + 1
          assert.is_nil(res)
          assert_error(err, "validation")
          assert.is_table(err.fields, where)
          assert.is_true(#err.fields >= 1, where .. ": a refusal naming no field")
          local named = {}
          for _, f in ipairs(err.fields) do
            assert.is_string(f.field, where)
            assert.is_true(#f.field > 0, where .. ": an empty field name")
            assert.is_string(f.message, where)
            assert.is_true(#f.message > 0, where)
            assert.matches(f.field, err.message, 1, true)
            named[f.field] = true
          end
          for name in pairs(problems) do
            assert.is_true(named[name], where .. ": " .. name .. " is wrong but not named in: " .. err.message)
          end
          for name in pairs(named) do
            assert.is_true(problems[name], where .. ": " .. name .. " named though it is right: " .. err.message)
          end
        end
      end
      assert.is_true(refused > 100 and accepted > 100, ("%d refused, %d accepted"):format(refused, accepted))
    end)
  end)
end)
