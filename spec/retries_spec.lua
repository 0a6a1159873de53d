-- Retries: a failed request is repeated only where repeating is safe (a poll, a download, a
-- submit that provably never reached the server or was answered 429), and every error says
-- whether it is retryable. Against the mock server over loopback; the waits between retries
-- are timed in backoff_spec.lua.

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local response = require "aimlmusic.response"
local retry = require "aimlmusic.retry"
local fixture = require "support.fixture"
local fastclock = require "support.fastclock"
local util = require "support.util"
local assert_error = require("support.errors").assert_error
local socket = require "socket"
local json = require("cjson").new()

local PARAMS = util.PARAMS
local read_file, ls, mkdir, fetch = util.read_file, util.ls, util.mkdir, util.fetch
local free_port, select_reqs = util.free_port, util.select_reqs

local env = fixture.mock_client { duration = 0.2 }
local fast = fastclock.new(env)

describe("retries of status polls", function()
  it("ride out connections closed without an answer", function()
    local job = assert(env.client:submit(PARAMS))
    env.mock:fault { method = "GET", action = "close", times = 2 }
    local st = assert(env.client:wait(job))
    assert.equal("completed", st.status)
    assert.is_true(#select_reqs(env.mock:requests(), "api", "GET") >= 3)
  end)

  it("ride out a poll that times out", function()
    local c = env.new_client { timeout = 0.3 }
    local job = assert(c:submit(PARAMS))
    env.mock:fault { method = "GET", delay_ms = 1500 }
    local t0 = core.now()
    local st = assert(c:wait(job))
    assert.equal("completed", st.status)
    assert.is_true(core.now() - t0 < 2.5, "took " .. (core.now() - t0) .. " s")
    assert.is_true(#select_reqs(env.mock:requests(), "api", "GET") >= 2)
  end)

  for _, status in ipairs({ 429, 500, 502, 503, 504 }) do
    it("ride out an HTTP " .. status, function()
      local job = assert(env.client:submit(PARAMS))
      env.mock:fault { method = "GET", status = status }
      local st = assert(env.client:wait(job))
      assert.equal("completed", st.status)
      local gets = select_reqs(env.mock:requests(), "api", "GET")
      assert.is_true(#gets >= 2)
    end)
  end

  it("give up after max_retries, with the last error, retryable", function()
    local c = fast.client { max_retries = 2 }
    fast.speed(20)
    local job = assert(fast.run(function() return c:submit(PARAMS) end))
    env.mock:fault { method = "GET", status = 503, times = -1 }
    local st, err = fast.run(function() return c:wait(job) end)
    assert.is_nil(st)
    assert_error(err, "server")
    assert.equal(503, err.status)
    assert.is_true(err.retryable)
    assert.equal(job.id, err.id)
    assert.equal(3, #select_reqs(env.mock:requests(), "api", "GET"))
  end)

  it("are not made with max_retries = 0", function()
    local c = env.new_client { max_retries = 0 }
    local job = assert(c:submit(PARAMS))
    env.mock:fault { method = "GET", status = 503, times = -1 }
    local st, err = c:wait(job)
    assert.is_nil(st)
    assert_error(err, "server")
    assert.equal(1, #select_reqs(env.mock:requests(), "api", "GET"))
  end)

  it("never follow a 401 or a 403", function()
    for _, case in ipairs({ { 401, "auth" }, { 403, "credits" } }) do
      env.mock:reset()
      local job = assert(env.client:submit(PARAMS))
      env.mock:fault { method = "GET", status = case[1], times = 5 }
      local st, err = env.client:wait(job)
      assert.is_nil(st)
      assert_error(err, case[2])
      assert.is_false(err.retryable)
      assert.equal(1, #select_reqs(env.mock:requests(), "api", "GET"), "HTTP " .. case[1])
    end
  end)
end)

describe("retries of downloads", function()
  it("ride out a 503 and a 429 from the CDN", function()
    local st = env.completed()
    env.mock:fault { host = "cdn", status = 503 }
    env.mock:fault { host = "cdn", status = 429, headers = { ["Retry-After"] = "0" } }
    local path = env.dir .. "/retried.wav"
    assert(env.client:download(st, path))
    assert.equal(3, #select_reqs(env.mock:requests(), "cdn", "GET"))
    assert.equal(fetch(st.url), read_file(path))
  end)

  it("ride out a connection closed without an answer", function()
    local st = env.completed()
    env.mock:fault { host = "cdn", action = "close" }
    local path = env.dir .. "/closed.wav"
    assert(env.client:download(st, path))
    assert.equal(fetch(st.url), read_file(path))
  end)

  it("ride out a CDN that stalls past the timeout", function()
    local st = env.completed()
    local c = env.new_client { timeout = 1 }
    env.mock:fault { host = "cdn", delay_ms = 4000 }
    local path = env.dir .. "/stalled.wav"
    local t0 = core.now()
    assert(c:download(st, path))
    assert.is_true(core.now() - t0 < 3.8, "took " .. (core.now() - t0) .. " s")
    assert.equal(fetch(st.url), read_file(path))
  end)

  it("give up after max_retries, leaving no file", function()
    local st = env.completed()
    local c = env.new_client { max_retries = 1 }
    local sub = mkdir(env.dir .. "/giveup")
    env.mock:fault { host = "cdn", status = 503, times = -1 }
    local info, err = c:download(st, sub .. "/x.wav")
    assert.is_nil(info)
    assert_error(err, "server")
    assert.is_true(err.retryable)
    assert.equal(2, #select_reqs(env.mock:requests(), "cdn", "GET"))
    assert.same({}, ls(sub))
  end)

  it("never follow a 401 from the CDN", function()
    local st = env.completed()
    env.mock:fault { host = "cdn", status = 401, times = 5 }
    local info, err = env.client:download(st.url, env.dir .. "/401.wav")
    assert.is_nil(info)
    assert_error(err, "auth")
    assert.is_false(err.retryable)
    assert.equal(1, #select_reqs(env.mock:requests(), "cdn", "GET"))
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
    local c = fast.client()
    fast.speed(10)
    env.mock:fault { method = "POST", status = 429, headers = { ["Retry-After"] = "2" } }
    local job = assert(fast.run(function() return c:submit(PARAMS) end))
    assert.equal("queued", job.status)
    local g = fastclock.gaps(env.mock:requests(), "api", "POST", 10)
    assert.equal(1, #g)
    assert.is_true(g[1] >= 1.95 and g[1] < 4, "retried after " .. g[1] .. " s")
    assert.equal(1, #env.mock:jobs())
  end)

  it("never repeat a submit that timed out: the job may exist, and it does", function()
    local c = env.new_client { timeout = 0.3 }
    env.mock:fault { method = "POST", delay_ms = 1000 }
    local job, err = c:submit(PARAMS)
    assert.is_nil(job)
    assert_error(err, "timeout")
    assert.is_false(err.retryable)
    assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
    assert.equal(1, #env.mock:jobs())
  end)

  it("never repeat a submit whose connection closed after sending", function()
    env.mock:fault { method = "POST", action = "close", times = 5 }
    local job, err = env.client:submit(PARAMS)
    assert.is_nil(job)
    assert_error(err, "network")
    assert.is_false(err.retryable)
    assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
  end)

  for _, status in ipairs({ 500, 502, 503, 504 }) do
    it("never repeat a submit answered " .. status, function()
      env.mock:fault { method = "POST", status = status, times = 5 }
      local job, err = env.client:submit(PARAMS)
      assert.is_nil(job)
      assert_error(err, "server")
      assert.is_false(err.retryable)
      assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
    end)
  end

  it("never repeat a submit answered 401 or 403", function()
    for _, case in ipairs({ { 401, "auth" }, { 403, "credits" } }) do
      env.mock:reset()
      env.mock:fault { method = "POST", status = case[1], times = 5 }
      local job, err = env.client:submit(PARAMS)
      assert.is_nil(job)
      assert_error(err, case[2])
      assert.is_false(err.retryable)
      assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
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
        local r, err = response.classify(kind, status, "")
        assert.is_nil(r)
        retry.decide(err) -- the core reports facts; the policy decides
        assert.is_boolean(err.retryable, kind .. " " .. status)
        assert.equal(RETRYABLE[kind][status] or false, err.retryable, kind .. " " .. status)
      end
    end
  end)

  it("from the CDN, a 403 is an expired URL (http), from the API it is credits", function()
    assert.equal("http", select(2, response.classify("download", 403, "<Error/>")).kind)
    assert.equal("credits", select(2, response.classify("status", 403, "")).kind)
    assert.equal("credits", select(2, response.classify("submit", 403, "")).kind)
  end)
end)
