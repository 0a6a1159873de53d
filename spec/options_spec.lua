-- Options that can't be misspelt: music.new and every call refuse a name they don't know,
-- naming the closest one, before anything is sent; the User-Agent and extra headers are
-- options, checked so that no value can end a header line; timeout and max_retries can be
-- given per call. Against the mock over loopback.

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local options = require "aimlmusic.options"
local fixture = require "support.fixture"
local util = require "support.util"
local assert_error = require("support.errors").assert_error

local PARAMS, select_reqs = util.PARAMS, util.select_reqs

local env = fixture.mock_client { duration = 0.1 }

-- A valid value of each kind of option (aimlmusic.options.kinds).
local SAMPLE = {
  seconds = 5, retries = 2, speed = 2048, whole_seconds = 10, bytes = 1024 * 1024, string = "x",
  path = "/tmp/journal-not-written", boolean = true, ["function"] = function() end,
  pair = { 10, 20 }, level = "debug", product = "myapp/1.2", headers = { ["X-Tag"] = "a" },
  output = "/tmp/out.wav",
}

-- The first request header of that name in a request of the mock's log.
local function header(req, name)
  return req.headers[name:lower()]
end

describe("music.new", function()
  it("refuses a misspelt option, naming the closest one", function()
    local c, err = music.new { timout = 5 }
    assert.is_nil(c)
    assert_error(err, "config")
    assert.equal("unknown option 'timout' (did you mean 'timeout'?)", err.message)
    c, err = music.new { api_key = "k", maxretries = 1 }
    assert.is_nil(c)
    assert.equal("unknown option 'maxretries' (did you mean 'max_retries'?)", err.message)
    c, err = music.new { api_key = "k", Headers = {} }
    assert.is_nil(c)
    assert.equal("unknown option 'Headers' (did you mean 'headers'?)", err.message)
  end)

  it("names no option when none is close, and refuses keys that are not names", function()
    local _, err = music.new { api_key = "k", colour = "red" }
    assert.equal("unknown option 'colour'", err.message)
    _, err = music.new { "k" }
    assert_error(err, "config")
    assert.matches("unknown option '1'", err.message, 1, true)
  end)

  it("takes every option of the table, and refuses each one misspelt by a letter", function()
    local n = 0
    for name, spec in pairs(options.client) do
      local value = SAMPLE[spec[1]]
      assert.is_not_nil(value, "no sample for kind " .. spec[1])
      if name == "base_url" then value = env.mock.api_url end
      local c, err = music.new { api_key = "k", [name] = value }
      assert.truthy(c, name .. ": " .. tostring(err))
      local typo = name:sub(1, -2) -- the last letter dropped
      c, err = music.new { api_key = "k", [typo] = value }
      assert.is_nil(c, typo)
      assert.equal(("unknown option '%s' (did you mean '%s'?)"):format(typo, name), err.message)
      n = n + 1
    end
    assert.is_true(n >= 21, "only " .. n .. " options")
  end)

  it("refuses a value of the wrong kind, naming the option", function()
    for name, bad in pairs { tls_verify = "no", on_event = "print", log_level = "verbose", headers = "X: y",
                             user_agent = 42, expected_seconds = { 1 } } do
      local c, err = music.new { api_key = "k", [name] = bad }
      assert.is_nil(c, name)
      assert_error(err, "config")
      assert.matches("option " .. name .. " ", err.message, 1, true)
    end
  end)
end)

describe("the options of each call", function()
  local function bad(call, ...)
    local r, err = env.client[call](env.client, ...)
    assert.is_nil(r, call)
    assert_error(err, "config")
    return err.message
  end

  it("are checked by name before anything is sent", function()
    local st = env.completed()
    local before = #env.mock:requests()
    assert.equal("unknown option 'outptu' of client:submit (did you mean 'output'?)",
      bad("submit", PARAMS, { outptu = "x.wav" }))
    assert.equal("unknown option 'timout' of client:status (did you mean 'timeout'?)",
      bad("status", st.id, { timout = 1 }))
    assert.equal("unknown option 'intervall' of client:wait (did you mean 'interval'?)",
      bad("wait", st.id, { intervall = 1 }))
    assert.equal("unknown option 'on_progres' of client:download (did you mean 'on_progress'?)",
      bad("download", st, env.dir .. "/x.wav", { on_progres = print }))
    assert.equal("unknown option 'overwite' of client:generate (did you mean 'overwrite'?)",
      bad("generate", PARAMS, { overwite = true }))
    local results, err = env.client:resume { on_statuss = print }
    assert.is_nil(results)
    assert.equal("unknown option 'on_statuss' of client:resume (did you mean 'on_status'?)", err.message)
    assert.equal("option max_retries of client:wait must be a whole number from 0 to 100, got 1.5",
      bad("wait", st.id, { max_retries = 1.5 }))
    assert.equal(before, #env.mock:requests())
  end)

  it("are the table's: each call takes each of its own", function()
    for call, known in pairs(options.calls) do
      for name, spec in pairs(known) do
        assert.truthy(options.check_call(call, { [name] = SAMPLE[spec[1]] }), call .. " " .. name)
      end
    end
    -- generate takes what wait and download take
    for _, call in ipairs { "wait", "download" } do
      for name in pairs(options.calls[call]) do assert.truthy(options.calls.generate[name], name) end
    end
  end)
end)

describe("the User-Agent", function()
  it("is aimlmusic/ and the library's own version, then the user's product token, on every host", function()
    local version = music._VERSION:match("^aimlmusic (%d+%.%d+%.%d+)$")
    assert.truthy(version, music._VERSION)
    local c = env.new_client { user_agent = "myapp/1.2 (+https://example.org)" }
    local st = assert(c:wait(assert(c:submit(PARAMS))))
    assert(c:download(st, env.dir .. "/ua.wav"))
    local reqs = env.mock:requests()
    assert.is_true(#reqs >= 3)
    for _, r in ipairs(reqs) do
      assert.equal("aimlmusic/" .. version .. " myapp/1.2 (+https://example.org)", header(r, "user-agent"))
    end
    env.mock:reset()
    assert(env.client:submit(PARAMS))
    assert.equal("aimlmusic/" .. version, header(env.mock:requests()[1], "user-agent"))
  end)

  it("takes no control character, CR or LF", function()
    for _, ua in ipairs { "app/1\r\nX-Evil: 1", "app/1\n", "app\0/1", "app\t1", "", " app/1", "app/1\127" } do
      local c, err = music.new { api_key = "k", user_agent = ua }
      assert.is_nil(c, ("%q"):format(ua))
      assert_error(err, "config")
      assert.matches("option user_agent", err.message, 1, true)
    end
  end)
end)

describe("extra headers", function()
  it("go with every API request and never to the audio's host", function()
    local c = env.new_client { headers = { ["X-Team"] = "audio", ["X-Trace-Id"] = "t-1" } }
    local st = assert(c:generate(PARAMS, { output = env.dir .. "/headers.wav" }))
    assert.truthy(st.path)
    local api, cdn = select_reqs(env.mock:requests(), "api"), select_reqs(env.mock:requests(), "cdn")
    assert.is_true(#api >= 2 and #cdn >= 1)
    for _, r in ipairs(api) do
      assert.equal("audio", header(r, "x-team"))
      assert.equal("t-1", header(r, "x-trace-id"))
      assert.equal("application/json", header(r, "content-type"))
    end
    for _, r in ipairs(cdn) do
      assert.is_nil(header(r, "x-team"))
      assert.is_nil(header(r, "x-trace-id"))
      assert.is_nil(header(r, "authorization"))
    end
  end)

  it("cannot replace Authorization, Content-Type or Host, whatever the case", function()
    for _, name in ipairs { "Authorization", "authorization", "CONTENT-TYPE", "Host", "User-Agent", "Content-Length" } do
      local c, err = music.new { api_key = "k", headers = { [name] = "x" } }
      assert.is_nil(c, name)
      assert_error(err, "config")
      assert.matches(name .. " is set by the library", err.message, 1, true)
    end
  end)

  it("refuse a name that is not a token and a value with CR, LF or another control", function()
    for _, h in ipairs { { ["X-A"] = "1\r\nAuthorization: Bearer stolen" }, { ["X-A"] = "1\n" },
                         { ["X-A"] = "a\0b" }, { ["X A"] = "1" }, { ["X-A:"] = "1" }, { [""] = "1" },
                         { ["X-A"] = 1 }, { "X-A: 1" }, { ["X-A"] = "" }, { ["X-A"] = "  " } } do
      local c, err = music.new { api_key = "k", headers = h }
      assert.is_nil(c)
      assert_error(err, "config")
      assert.matches("option headers", err.message, 1, true)
    end
  end)

  it("are checked by the core too, for a direct caller", function()
    local s, err = core.session { api_key = "k", base_url = "http://127.0.0.1:9", headers = { "X-A: 1\r\nX-B: 2" } }
    assert.is_nil(s)
    assert_error(err, "config")
    s, err = core.session { api_key = "k", base_url = "http://127.0.0.1:9", user_agent = "a\r\nb" }
    assert.is_nil(s)
    assert_error(err, "config")
  end)
end)

describe("timeout and max_retries given per call", function()
  it("a status call's own timeout ends a slow answer", function()
    local job = assert(env.client:submit(PARAMS))
    env.mock:fault { method = "GET", delay_ms = 3000 }
    local t0 = core.now()
    local st, err = env.client:status(job.id, { timeout = 0.3 })
    assert.is_nil(st)
    assert_error(err, "timeout")
    assert.is_true(core.now() - t0 < 2.5, "took " .. (core.now() - t0) .. " s")
  end)

  it("a submit's own timeout ends a slow answer", function()
    env.mock:fault { method = "POST", delay_ms = 3000 }
    local t0 = core.now()
    local job, err = env.client:submit(PARAMS, { timeout = 0.3 })
    assert.is_nil(job)
    assert_error(err, "timeout")
    assert.is_true(core.now() - t0 < 2.5, "took " .. (core.now() - t0) .. " s")
  end)

  it("a download's own timeout ends a stall, and the retry fetches the file", function()
    local st = env.completed()
    env.mock:fault { host = "cdn", delay_ms = 4000 }
    local t0 = core.now()
    local info = assert(env.client:download(st, env.dir .. "/stall.wav", { timeout = 0.5 }))
    assert.is_true(core.now() - t0 < 3.5, "took " .. (core.now() - t0) .. " s")
    assert.equal(2, #select_reqs(env.mock:requests(), "cdn", "GET"))
    assert.equal(#util.fetch(st.url), info.bytes)
  end)

  it("max_retries = 0 on a call gives up at the first failure; more on status retries it", function()
    env.mock:fault { method = "POST", status = 429 }
    local job, err = env.client:submit(PARAMS, { max_retries = 0 })
    assert.is_nil(job)
    assert_error(err, "rate_limited")
    assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
    job = assert(env.client:submit(PARAMS))
    env.mock:fault { method = "GET", status = 503 }
    local st
    st, err = env.client:wait(job, { max_retries = 0 })
    assert.is_nil(st)
    assert_error(err, "server")
    env.mock:fault { method = "GET", status = 503 }
    st = assert(env.client:status(job.id, { max_retries = 1 }))
    assert.equal(job.id, st.id)
    st = assert(env.client:wait(job))
    env.mock:fault { host = "cdn", status = 503 }
    local info
    info, err = env.client:download(st, env.dir .. "/once.wav", { max_retries = 0 })
    assert.is_nil(info)
    assert_error(err, "server")
  end)

  it("generate's max_retries reaches its submit, polls and download", function()
    env.mock:fault { method = "POST", status = 429 }
    local st, err = env.client:generate(PARAMS, { max_retries = 0, output = env.dir .. "/g.wav" })
    assert.is_nil(st)
    assert_error(err, "rate_limited")
    env.mock:fault { host = "cdn", status = 503 }
    st, err = env.client:generate(PARAMS, { max_retries = 0, output = env.dir .. "/g.wav" })
    assert.is_nil(st)
    assert_error(err, "server")
    assert.truthy(err.id)
  end)
end)
