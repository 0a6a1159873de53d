-- A hostile or misconfigured server: whatever it sends never shows the key, never prints a
-- control character, and never ends a paid job unless the API itself says the id is unknown.
-- Against the mock server over loopback; the faults are scripted on its control channel.

local music = require "aimlmusic"
local errors = require "aimlmusic.errors"
local mockctl = require "support.mockctl"
local util = require "support.util"
local json = require("cjson").new()

local PARAMS = util.PARAMS
local KEY = "sk-live-0123456789abcdef"

-- The key as a hostile server hides it from a byte scan: every character a JSON \u escape.
local function escaped(s)
  return (s:gsub(".", function(c) return ("\\u%04x"):format(c:byte()) end))
end

-- Every string in v, keys and values, at any depth.
local function strings(v, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      strings(k, out, seen)
      strings(x, out, seen)
    end
  end
  return out
end

local function assert_no_key(v, what)
  for _, s in ipairs(strings(v)) do
    assert.is_nil(s:find(KEY, 1, true), what .. " holds the key: " .. s)
  end
end

local function assert_printable(s)
  assert.is_nil(s:find("[%c\127]"), ("control character in %q"):format(s))
end

describe("a hostile server", function()
  local mock, client

  setup(function()
    mock = mockctl.start()
  end)

  before_each(function()
    mock:reset()
    mock:config { duration = 0.2, key = KEY }
    client = assert(music.new { api_key = KEY, base_url = mock.api_url, poll_interval = 0.05, max_retries = 0 })
  end)

  after_each(function()
    mock:config { key = mockctl.start().key }
  end)

  describe("echoing the key", function()
    it("never gets it into a validation error's fields, request_id or code", function()
      local body = '{"statusCode":400,"requestId":"' .. escaped(KEY) .. '","code":"' .. KEY .. '",'
        .. '"message":["prompt Bearer ' .. escaped(KEY) .. '","lyrics ' .. KEY .. '"]}'
      mock:fault { method = "POST", status = 400, body = body, headers = { ["Content-Type"] = "application/json" } }
      local _, err = client:submit(PARAMS)
      assert.equal("validation", err.kind)
      assert.equal(2, #err.fields)
      assert.equal("prompt", err.fields[1].field)
      assert.matches("[redacted]", err.fields[1].message, 1, true)
      assert.matches("[redacted]", err.request_id, 1, true)
      assert_no_key(err, "err")
      assert.is_nil(tostring(err):find(KEY, 1, true))
    end)

    it("never gets it into a status table, its raw body or a job_failed error", function()
      local job = assert(client:submit(PARAMS))
      local view = {
        id = job.id, status = "error", trace_id = KEY,
        error = { name = "Bearer " .. KEY, message = "Authorization: Bearer " .. KEY },
        echo = { [KEY] = { KEY, { deeper = KEY } } },
      }
      mock:fault { method = "GET", status = 200, json = view, times = 5 }
      local st = client:status(job.id)
      assert.equal("error", st.status)
      assert_no_key(st, "st")
      assert.matches("[redacted]", st.error.message, 1, true)
      assert.matches("[redacted]", st.raw.echo["[redacted]"][2].deeper, 1, true)
      local err
      st, err = client:wait(job.id)
      assert.is_nil(st)
      assert.equal("job_failed", err.kind)
      assert_no_key(err, "err")
      assert.is_nil(tostring(err):find(KEY, 1, true))
    end)

    it("never gets it into a job's id when it hides it behind JSON escapes", function()
      local body = '{"id":"' .. escaped(KEY) .. ':minimax/music-2.0","status":"queued"}'
      mock:fault { method = "POST", status = 200, body = body, headers = { ["Content-Type"] = "application/json" } }
      local job = assert(client:submit(PARAMS))
      assert.equal("[redacted]:minimax/music-2.0", job.id)
      assert_no_key(job, "job")
    end)
  end)

  describe("printing an error", function()
    it("shows control characters from the server as visible escapes", function()
      mock:fault { method = "POST", status = 429, json = {
        statusCode = 429, message = "slow\ndown\r\27[2J", requestId = "r1\n2026-11-22 INFO forged\27]0;t\7",
      } }
      local _, err = client:submit(PARAMS)
      local s = tostring(err)
      assert_printable(s)
      assert.equal("aimlmusic: rate_limited: slow\\ndown\\r\\x1b[2J (HTTP 429, request_id "
        .. "r1\\n2026-11-22 INFO forged\\x1b]0;t\\x07)", s)
    end)

    it("escapes every field it prints, and C1 controls and invalid UTF-8 too", function()
      local err = errors.make { kind = "job_failed", message = "m\0x\194\155y\255", code = "c\27", id = "i\t",
                               trace_id = "t\r", request_id = "r\127" }
      local s = tostring(err)
      assert_printable(s)
      assert.is_nil(s:find("\194\155", 1, true))
      assert.equal("aimlmusic: job_failed: m\\x00x\\xc2\\x9by\\xff (code c\\x1b, id i\\t, request_id r\\x7f, "
        .. "trace_id t\\r)", s)
      assert.equal("aimlmusic: io\\x1b[2J: m", tostring(errors.make { kind = "io\27[2J", message = "m" }))
      -- Text that is only UTF-8 stays as it is.
      assert.equal("aimlmusic: io: café ♪", tostring(errors.make { kind = "io", message = "café ♪" }))
    end)
  end)

  describe("a 404", function()
    local jdir, jpath

    before_each(function()
      jdir = util.tmpdir()
      jpath = jdir .. "/jobs.journal"
    end)

    after_each(function()
      util.rm_rf(jdir)
    end)

    local function journaled()
      local c = assert(music.new { api_key = KEY, base_url = mock.api_url, poll_interval = 0.05,
                                   max_retries = 0, journal = jpath })
      local job = assert(c:submit(PARAMS, { output = jdir .. "/t.mp3" }))
      assert.equal(1, #c:pending())
      return c, job
    end

    it("from a web page (a wrong base URL) keeps the paid job in the journal", function()
      local c, job = journaled()
      mock:fault { method = "GET", status = 404, body = "<html><body><h1>404 Not Found</h1></body></html>",
                   headers = { ["Content-Type"] = "text/html" }, times = 2 }
      local st, err = c:wait(job)
      assert.is_nil(st)
      assert.equal("http", err.kind)
      assert.equal(404, err.status)
      assert.equal(1, #c:pending())
      local results = c:resume { interval = 0.05 }
      assert.equal(1, #results)
      assert.equal("http", results[1].err.kind)
      assert.equal(1, #c:pending())
      assert(c:resume { interval = 0.05 }[1].path)
      assert.same({}, c:pending())
    end)

    it("from a route the server does not have keeps the paid job in the journal", function()
      local c, job = journaled()
      -- What the API answers for a path it has no route for: its JSON, but no word on the id.
      mock:fault { method = "GET", status = 404, json = {
        statusCode = 404, message = "Cannot GET /v2/generate/audio", path = "/v2/generate/audio",
      } }
      local _, err = c:wait(job)
      assert.equal("http", err.kind)
      assert.equal(1, #c:pending())
      mock:fault { method = "GET", status = 404, json = {
        statusCode = 404, message = "Generation not found", path = "/elsewhere/v2/generate/audio",
      } }
      _, err = c:wait(job)
      assert.equal("http", err.kind)
      assert.equal(1, #c:pending())
    end)

    it("from the API for that generation id ends the journaled job", function()
      local c = assert(music.new { api_key = KEY, base_url = mock.api_url, poll_interval = 0.05,
                                   max_retries = 0, journal = jpath })
      util.write_file(jpath, json.encode { op = "submit", id = "gone:minimax/music-2.0", model = PARAMS.model,
                                          time = os.time() } .. "\n")
      local _, err = c:wait("gone:minimax/music-2.0")
      assert.equal("not_found", err.kind)
      assert.equal(404, err.status)
      assert.same({}, c:pending())
    end)
  end)
end)
