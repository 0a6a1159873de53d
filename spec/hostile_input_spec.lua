-- Hostile input: keys with control characters are refused, and no answer the server can send
-- (wrong types, not JSON, nested 100,000 deep, over 1 MiB) makes the library raise: each is a
-- protocol error, and a submit whose answer is not what the API documents is never repeated.

local music = require "aimlmusic"
local response = require "aimlmusic.response"
local retry = require "aimlmusic.retry"
local fixture = require "support.fixture"
local util = require "support.util"
local assert_error = require("support.errors").assert_error
local json = require("cjson").new()

local PARAMS = util.PARAMS
local select_reqs = util.select_reqs

local env = fixture.mock_client { duration = 0.2, dir = false }

describe("hostile input", function()
  it("refuses API keys with CR, LF or other control characters", function()
    for _, key in ipairs({ "abc\r\nX-Evil: 1", "abc\n", "abc\r", "ab\0cd", "ab\tcd", "ab\27cd", "ab\127cd",
                           "ab\1cd", "\31abcd" }) do
      local c, err = music.new { api_key = key, base_url = env.mock.api_url }
      assert.is_nil(c, ("%q"):format(key))
      assert_error(err, "config")
      assert.not_matches(key, tostring(err), 1, true)
    end
    assert.same({}, env.mock:requests())
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
      local ok, st, err = pcall(response.classify, "status", 200, case[2])
      assert.is_true(ok, tostring(st))
      assert.is_nil(st)
      assert_error(err, "protocol")
      assert.is_false(err.retryable)
    end)
  end

  it("accepts a body nested 64 deep", function()
    local st = assert(response.classify("status", 200, '{"id":"a:m","status":"queued","x":' .. NEST(63) .. "}"))
    assert.equal("queued", st.status)
  end)

  it("classifies a submit answer without id or status as protocol", function()
    for _, body in ipairs({ '{"status":"queued"}', '{"id":"a:m"}', '{"id":"a:m","status":1}', "[]" }) do
      local job, err = response.classify("submit", 200, body)
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
      local ok, st, err = pcall(response.classify, "status", 200, body)
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
      local ok, r, err = pcall(response.classify, "status", 500, body)
      assert.is_true(ok, tostring(r))
      assert.is_nil(r)
      assert_error(err, "server")
      assert.is_true(retry.decide(err).retryable)
    end
    local _, err = response.classify("submit", 400, '{"message":[1,{},null,"prompt bad"]}')
    assert_error(err, "validation")
    assert.same({ { field = "prompt", message = "prompt bad" } }, err.fields)
  end)

  it("turns a status body over 1 MiB into a protocol error, over the wire", function()
    local job = assert(env.client:submit(PARAMS))
    local big = json.encode { id = job.id, status = "queued", pad = ("x"):rep(1024 * 1024 + 10) }
    env.mock:fault { method = "GET", status = 200, body = big, headers = { ["Content-Type"] = "application/json" } }
    local st, err = env.client:status(job.id)
    assert.is_nil(st)
    assert_error(err, "protocol")
    assert.equal(job.id, err.id)
  end)

  it("turns a body nested 65 deep into a protocol error, over the wire", function()
    local job = assert(env.client:submit(PARAMS))
    local body = '{"id":"' .. job.id .. '","status":"queued","x":' .. NEST(65) .. "}"
    env.mock:fault { method = "GET", status = 200, body = body }
    local st, err = env.client:status(job.id)
    assert.is_nil(st)
    assert_error(err, "protocol")
  end)

  it("ends wait with a protocol error on a wrongly shaped poll, not a crash", function()
    for _, body in ipairs({ { status = 5 }, { status = "completed", audio_file = "https://x.example/a" },
                            { status = "completed" } }) do
      env.mock:reset()
      local job = assert(env.client:submit(PARAMS))
      body.id = job.id
      env.mock:fault { method = "GET", status = 200, json = body }
      local ok, st, err = pcall(env.client.wait, env.client, job)
      assert.is_true(ok, tostring(st))
      assert.is_nil(st)
      assert_error(err, "protocol")
    end
  end)

  it("ends wait with a protocol error on a poll that is not JSON", function()
    local job = assert(env.client:submit(PARAMS))
    env.mock:fault { method = "GET", action = "garbage" }
    local st, err = env.client:wait(job)
    assert.is_nil(st)
    assert_error(err, "protocol")
  end)

  it("never repeats a submit whose answer is not what the API documents", function()
    env.mock:fault { method = "POST", status = 200, json = { id = 5, status = "queued" }, times = 5 }
    local job, err = env.client:submit(PARAMS)
    assert.is_nil(job)
    assert_error(err, "protocol")
    assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
  end)

  it("counts unknown non-terminal statuses such as waiting as pending", function()
    local job = assert(env.client:submit(PARAMS))
    env.mock:fault { method = "GET", status = 200, json = { id = job.id, status = "waiting" }, times = 2 }
    env.mock:fault { method = "GET", status = 200, json = { id = job.id, status = "processing" } }
    local seen = {}
    local st = assert(env.client:wait(job, { on_status = function(s) seen[#seen + 1] = s.status end }))
    assert.equal("completed", st.status)
    assert.equal("waiting", seen[1])
    assert.equal("processing", seen[2])
    assert.equal("completed", seen[#seen])
  end)
end)
