-- Specs of the mock server itself (lua/aimlmusic/mock.lua), over real HTTP with LuaSocket.

local socket = require("socket")
local http = require("socket.http")
local ltn12 = require("ltn12")
local json = require("cjson").new()
local mockctl = require("support.mockctl")
local util = require("support.util")

local mock = mockctl.start()

local M20, M15 = "minimax/music-2.0", "minimax/music-1.5"
local LYRICS = "[Verse]\nStreetlights flicker, the night breeze sighs"
local PROMPT = "A calm piano piece with soft strings."

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- One request with socket.http: returns status, body, headers (lower-case names).
local function request(method, url, body, headers)
  headers = headers or {}
  if body then headers["content-length"] = tostring(#body) end
  local chunks = {}
  local ok, code, rh = http.request({
    url = url, method = method, headers = headers,
    source = body and ltn12.source.string(body) or nil,
    sink = ltn12.sink.table(chunks),
  })
  assert(ok, "request failed: " .. tostring(code))
  return code, table.concat(chunks), rh
end

local function auth(key)
  return { authorization = "Bearer " .. (key or mock.key), ["content-type"] = "application/json" }
end

local function submit(params, key)
  local status, body = request("POST", mock.api_url .. "/v2/generate/audio", json.encode(params), auth(key))
  local ok, decoded = pcall(json.decode, body)
  return status, ok and decoded or body
end

local function status_url(id)
  return mock.api_url .. "/v2/generate/audio?generation_id=" .. urlencode(id)
end

local function poll(id, key)
  local status, body = request("GET", status_url(id), nil, auth(key))
  local ok, decoded = pcall(json.decode, body)
  return status, ok and decoded or body
end

local function params(over)
  return util.with({ model = M20, prompt = PROMPT, lyrics = LYRICS }, over)
end

local function has(list, s)
  for _, v in ipairs(list) do
    if v == s then return true end
  end
  return false
end

local function host_port(url)
  local host, port = url:match("^http://([^:/]+):(%d+)")
  return host, tonumber(port)
end

local function connect(url)
  local c = assert(socket.tcp())
  c:settimeout(5)
  assert(c:connect(host_port(url)))
  return c
end

-- Read one response from a raw socket: {status, headers, body} or nil, err, partial.
local function read_response(c)
  local line, err = c:receive("*l")
  if not line then return nil, err end
  local status = tonumber(line:match("^HTTP/1%.%d (%d+)"))
  local headers = {}
  while true do
    local h = assert(c:receive("*l"))
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.*)$")
    headers[k:lower()] = v
  end
  local n = tonumber(headers["content-length"] or "0")
  local body, rerr, partial = "", nil, nil
  if n > 0 then body, rerr, partial = c:receive(n) end
  if not body then return nil, rerr, { status = status, headers = headers, body = partial } end
  return { status = status, headers = headers, body = body }
end

local function completed_job(setting, model)
  mock:config({ duration = 0 })
  local status, created = submit(params({ model = model, audio_setting = setting }))
  assert.equal(200, status)
  local _, st = poll(created.id)
  assert.equal("completed", st.status)
  return st
end

local function le(s, i, n)
  local v = 0
  for k = n, 1, -1 do v = v * 256 + s:byte(i + k - 1) end
  return v
end

describe("aimlmusic mock", function()
  before_each(function()
    mock:reset()
  end)

  describe("validation", function()
    it("accepts a valid request and answers {id, status=queued}", function()
      local status, body = submit(params())
      assert.equal(200, status)
      assert.equal("queued", body.status)
      assert.truthy(body.id:match("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+:minimax/music%-2%.0$"), body.id)
    end)

    it("answers 400 with the provider's error body, one message per problem", function()
      local status, body = submit({ model = M20, prompt = "short", lyrics = "tiny" })
      assert.equal(400, status)
      assert.equal(400, body.statusCode)
      assert.equal("/v2/generate/audio", body.path)
      assert.truthy(body.requestId:match("^%x+%-%x+%-%x+%-%x+%-%x+$"))
      assert.truthy(body.timestamp:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"))
      assert.same({
        "prompt must be longer than or equal to 10 characters",
        "lyrics must be longer than or equal to 10 characters",
      }, body.message)
    end)

    it("applies the per-model prompt limits", function()
      assert.equal(200, (submit(params({ model = M15, prompt = ("p"):rep(300) }))))
      local status, body = submit(params({ model = M15, prompt = ("p"):rep(301) }))
      assert.equal(400, status)
      assert.same({ "prompt must be shorter than or equal to 300 characters" }, body.message)
      assert.equal(200, (submit(params({ model = M20, prompt = ("p"):rep(2000) }))))
      status, body = submit(params({ model = M20, prompt = ("p"):rep(2001) }))
      assert.equal(400, status)
      assert.same({ "prompt must be shorter than or equal to 2000 characters" }, body.message)
      status, body = submit(params({ lyrics = ("l"):rep(3001) }))
      assert.equal(400, status)
      assert.same({ "lyrics must be shorter than or equal to 3000 characters" }, body.message)
      assert.equal(200, (submit(params({ lyrics = ("l"):rep(3000) }))))
    end)

    it("counts code points, not bytes", function()
      -- 300 two-byte characters: 600 bytes but within music-1.5's 300
      assert.equal(200, (submit(params({ model = M15, prompt = ("\195\169"):rep(300) }))))
      -- 9 three-byte characters: 27 bytes but fewer than 10 characters
      local status, body = submit(params({ prompt = ("\230\151\165"):rep(9) }))
      assert.equal(400, status)
      assert.same({ "prompt must be longer than or equal to 10 characters" }, body.message)
      assert.equal(200, (submit(params({ prompt = ("\240\159\142\181"):rep(10) }))))
    end)

    it("rejects invalid UTF-8", function()
      local status, body = submit(params({ prompt = "abcdefghij\255\254" }))
      assert.equal(400, status)
      assert.same({ "prompt must be a valid UTF-8 string" }, body.message)
      status, body = submit(params({ lyrics = "abcdefghij\237\160\128" })) -- a UTF-16 surrogate
      assert.equal(400, status)
      assert.same({ "lyrics must be a valid UTF-8 string" }, body.message)
    end)

    it("requires model, prompt and lyrics", function()
      local status, body = submit({})
      assert.equal(400, status)
      assert.same({ "model should not be empty" }, body.message)
      status, body = submit({ model = "minimax/music-2.0" })
      assert.equal(400, status)
      assert.same({ "prompt should not be empty", "lyrics should not be empty" }, body.message)
      status, body = submit(params({ model = "minimax/music-9" }))
      assert.equal(400, status)
      -- Every model of the table, sorted: written out here, so a lost model fails this.
      assert.same({ "model must be one of the following values: elevenlabs/eleven_music, google/lyria2, "
        .. "minimax-music, minimax/music-1.5, minimax/music-2.0, minimax/music-2.6, minimax/music-cover, "
        .. "stable-audio" }, body.message)
      status, body = submit(params({ prompt = 12345678901 }))
      assert.equal(400, status)
      assert.same({ "prompt must be a string" }, body.message)
    end)

    it("checks audio_setting", function()
      local ok = { format = "wav", audio_sample_rate = 24000, bitrate = 128000, extra = "ignored" }
      assert.equal(200, (submit(params({ audio_setting = ok }))))
      assert.equal(200, (submit(params({ audio_setting = { format = "pcm", audio_sample_rate = 16000 } }))))
      -- music-2.0 spells it audio_sample_rate; music-cover spells it sample_rate.
      local bad = { audio_sample_rate = 22050, bitrate = 1, format = "ogg" }
      local status, body = submit(params({ audio_setting = bad }))
      assert.equal(400, status)
      assert.truthy(has(body.message,
        "audio_setting.format must be one of the following values: mp3, wav, pcm"))
      assert.truthy(has(body.message,
        "audio_setting.audio_sample_rate must be one of the following values: 16000, 24000, 32000, 44100"))
      assert.truthy(has(body.message,
        "audio_setting.bitrate must be one of the following values: 32000, 64000, 128000, 256000"))
      -- The provider documents defaults for all three: an audio_setting without format is fine.
      assert.equal(200, (submit(params({ audio_setting = { audio_sample_rate = 44100 } }))))
      status, body = submit(params({ audio_setting = "mp3" }))
      assert.equal(400, status)
      assert.same({ "audio_setting must be an object" }, body.message)
    end)

    it("answers 400 with a string message for a body that is not JSON", function()
      local status, text = request("POST", mock.api_url .. "/v2/generate/audio", "{not json", auth())
      assert.equal(400, status)
      local body = json.decode(text)
      assert.equal(400, body.statusCode)
      assert.equal("string", type(body.message))
    end)
  end)

  describe("errors", function()
    it("answers 401 for a missing or wrong key on both endpoints", function()
      local status, body = submit(params(), "wrong")
      assert.equal(401, status)
      assert.equal(401, body.statusCode)
      assert.equal("Unauthorized", body.message)
      status = request("POST", mock.api_url .. "/v2/generate/audio", json.encode(params()))
      assert.equal(401, status)
      status, body = poll("x:" .. M20, "wrong")
      assert.equal(401, status)
      assert.equal("Unauthorized", body.message)
      assert.same({}, mock:jobs())
    end)

    it("answers 404 for an unknown id, 400 without generation_id, 404 for an unknown path", function()
      local status, body = poll("00000000-0000-4000-8000-000000000000:" .. M20)
      assert.equal(404, status)
      assert.equal(404, body.statusCode)
      assert.equal("/v2/generate/audio", body.path)
      local text
      status, text = request("GET", mock.api_url .. "/v2/generate/audio", nil, auth())
      assert.equal(400, status)
      assert.equal(400, json.decode(text).statusCode)
      status, text = request("GET", mock.api_url .. "/v1/nothing", nil, auth())
      assert.equal(404, status)
      assert.equal(404, json.decode(text).statusCode)
    end)
  end)

  describe("jobs", function()
    it("go queued -> generating -> completed", function()
      mock:config({ duration = 0.6 })
      local t0 = socket.gettime()
      local _, created = submit(params({ model = M15 }))
      assert.truthy(created.id:match(":minimax/music%-1%.5$"))
      local _, st = poll(created.id)
      assert.equal("queued", st.status)
      assert.equal(created.id, st.id)
      assert.is_nil(st.audio_file)
      socket.sleep(math.max(0, t0 + 0.35 - socket.gettime()))
      _, st = poll(created.id)
      assert.equal("generating", st.status)
      socket.sleep(math.max(0, t0 + 0.7 - socket.gettime()))
      _, st = poll(created.id)
      assert.equal("completed", st.status)
      assert.truthy(st.audio_file.url:find(mock.cdn_url .. "/audio/", 1, true))
      assert.truthy(st.audio_file.url:match("%?Expires=%d+&Signature=%x+$"))
      -- The default format is mp3: extra_info describes the fixture actually served.
      assert.equal(2000, st.extra_info.music_duration)
      assert.equal(16000, st.extra_info.music_sample_rate)
      assert.equal(1, st.extra_info.music_channel)
      assert.equal(24000, st.extra_info.bitrate)
      assert.equal("number", type(st.meta.usage.credits_used))
      assert.truthy(st.trace_id:match("^" .. ("%x"):rep(32) .. "$"))
      local code, audio = request("GET", st.audio_file.url)
      assert.equal(200, code)
      assert.equal(st.extra_info.music_size, #audio)
      local jobs = mock:jobs()
      assert.equal(1, #jobs)
      assert.equal(created.id, jobs[1].id)
      assert.equal(M15, jobs[1].model)
      assert.equal("completed", jobs[1].status)
      assert.equal("mp3", jobs[1].format)
      assert.equal("number", type(jobs[1].created))
    end)

    it("serves a valid WAV at the requested sample rate", function()
      local st = completed_job({ format = "wav", sample_rate = 24000 })
      assert.truthy(st.audio_file.url:match("%.wav%?"))
      local code, wav, headers = request("GET", st.audio_file.url)
      assert.equal(200, code)
      assert.equal("audio/wav", headers["content-type"])
      assert.equal("RIFF", wav:sub(1, 4))
      assert.equal("WAVE", wav:sub(9, 12))
      assert.equal("fmt ", wav:sub(13, 16))
      assert.equal(#wav - 8, le(wav, 5, 4))
      assert.equal(1, le(wav, 21, 2)) -- PCM
      assert.equal(1, le(wav, 23, 2)) -- mono
      assert.equal(24000, le(wav, 25, 4))
      assert.equal(16, le(wav, 35, 2))
      assert.equal("data", wav:sub(37, 40))
      assert.equal(24000 * 2 * 2, le(wav, 41, 4))
      assert.equal(44 + 24000 * 2 * 2, #wav)
      assert.equal(#wav, st.extra_info.music_size)
      local loudest = 0
      for i = 45 + 4000, 45 + 8000, 2 do
        local v = le(wav, i, 2)
        if v >= 32768 then v = 65536 - v end
        if v > loudest then loudest = v end
      end
      assert.truthy(loudest > 5000, "the melody should be audible")
    end)

    it("serves raw PCM and the MP3", function()
      local st = completed_job({ format = "pcm", sample_rate = 16000 })
      local code, pcm, headers = request("GET", st.audio_file.url)
      assert.equal(200, code)
      assert.equal("application/octet-stream", headers["content-type"])
      assert.equal(16000 * 2 * 2, #pcm)
      st = completed_job(nil, M15)
      local mp3
      code, mp3, headers = request("GET", st.audio_file.url, nil, { authorization = "Bearer leaked" })
      assert.equal(200, code)
      assert.equal("audio/mpeg", headers["content-type"])
      assert.equal(tonumber(headers["content-length"]), #mp3)
      assert.truthy(#mp3 > 1000 and #mp3 < 20000)
      local b1, b2 = mp3:byte(1, 2)
      assert.truthy(mp3:sub(1, 3) == "ID3" or (b1 == 255 and b2 >= 224), "MPEG frame sync or ID3")
      -- the CDN does not check Authorization, it records it
      local log = mock:requests()
      assert.equal("cdn", log[#log].host)
      assert.equal("Bearer leaked", log[#log].headers.authorization)
    end)

    it("supports Range requests and HEAD on the CDN", function()
      local st = completed_job({ format = "wav", sample_rate = 16000 })
      local url = st.audio_file.url
      local _, full = request("GET", url)
      local size = #full
      local code, part, headers = request("GET", url, nil, { range = "bytes=100-" })
      assert.equal(206, code)
      assert.equal(full:sub(101), part)
      assert.equal("bytes 100-" .. (size - 1) .. "/" .. size, headers["content-range"])
      code, part = request("GET", url, nil, { range = "bytes=0-9" })
      assert.equal(206, code)
      assert.equal(full:sub(1, 10), part)
      code, part = request("GET", url, nil, { range = "bytes=-4" })
      assert.equal(206, code)
      assert.equal(full:sub(-4), part)
      code, _, headers = request("GET", url, nil, { range = "bytes=" .. size .. "-" })
      assert.equal(416, code)
      assert.equal("bytes */" .. size, headers["content-range"])
      code, part, headers = request("HEAD", url)
      assert.equal(200, code)
      assert.equal("", part)
      assert.equal(tostring(size), headers["content-length"])
      assert.equal("bytes", headers["accept-ranges"])
    end)

    it("refuses a wrong signature, an expired URL and an unknown file", function()
      local st = completed_job({ format = "pcm" })
      local url = st.audio_file.url
      assert.equal(403, (request("GET", (url:gsub("Signature=%x", "Signature=g")))))
      assert.equal(404, (request("GET", (url:gsub("/audio/%w", "/audio/_")))))
      assert.equal(404, (request("GET", mock.cdn_url .. "/nothing")))
      mock:config({ url_ttl = -10 })
      st = completed_job({ format = "pcm" })
      local code, body = request("GET", st.audio_file.url)
      assert.equal(403, code)
      assert.truthy(body:find("expired", 1, true))
    end)
  end)

  describe("faults", function()
    it("answer with a status, headers and the provider error body, `times` times", function()
      mock:fault({ status = 429, headers = { ["Retry-After"] = "2" }, times = 2 })
      for _ = 1, 2 do
        local status, body, headers = request("POST", mock.api_url .. "/v2/generate/audio",
          json.encode(params()), auth())
        assert.equal(429, status)
        assert.equal("2", headers["retry-after"])
        local decoded = json.decode(body)
        assert.equal(429, decoded.statusCode)
        assert.equal("/v2/generate/audio", decoded.path)
      end
      assert.equal(200, (submit(params())))
    end)

    it("match by host and method, in order, with a raw or JSON body", function()
      mock:fault({ method = "GET", status = 503, body = "upstream down" })
      mock:fault({ status = 500, json = { error = "boom" } })
      local status, body = submit(params()) -- POST: skips the GET fault
      assert.equal(500, status)
      assert.equal("boom", body.error)
      local _, created = submit(params())
      local code, text = request("GET", status_url(created.id), nil, auth())
      assert.equal(503, code)
      assert.equal("upstream down", text)
      assert.same({}, mock:faults())
    end)

    it("can hit the CDN", function()
      local st = completed_job({ format = "pcm" })
      mock:fault({ host = "cdn", status = 502 })
      assert.equal(502, (request("GET", st.audio_file.url)))
      assert.equal(200, (request("GET", st.audio_file.url)))
    end)

    it("delay the answer with delay_ms", function()
      mock:fault({ delay_ms = 300 })
      local t0 = socket.gettime()
      local status = submit(params())
      assert.equal(200, status)
      assert.truthy(socket.gettime() - t0 >= 0.25)
    end)

    it("close the connection without answering", function()
      mock:fault({ action = "close" })
      local c = connect(mock.api_url)
      c:send("GET /v2/generate/audio?generation_id=x HTTP/1.1\r\nHost: x\r\n\r\n")
      local data, err, partial = c:receive("*a")
      c:close()
      assert.equal("", data or partial)
      assert.is_true(data == "" or err == "closed")
      assert.equal(1, #mock:requests())
    end)

    it("send garbage with status 200", function()
      mock:fault({ action = "garbage" })
      local code, text = request("POST", mock.api_url .. "/v2/generate/audio", json.encode(params()), auth())
      assert.equal(200, code)
      assert.is_false((pcall(json.decode, text)))
    end)

    it("truncate the body below its Content-Length", function()
      local st = completed_job({ format = "pcm", sample_rate = 16000 })
      mock:fault({ host = "cdn", action = "truncate" })
      local path = st.audio_file.url:match("^http://[^/]+(/.*)$")
      local c = connect(mock.cdn_url)
      c:send("GET " .. path .. " HTTP/1.1\r\nHost: cdn\r\n\r\n")
      local resp, err, partial = read_response(c)
      c:close()
      assert.is_nil(resp)
      assert.equal("closed", err)
      assert.equal(200, partial.status)
      assert.equal(64000, tonumber(partial.headers["content-length"]))
      assert.truthy(#partial.body < 64000)
    end)

    it("send the body slowly", function()
      local st = completed_job({ format = "pcm", sample_rate = 16000 })
      mock:fault({ host = "cdn", action = "slow", delay_ms = 300 })
      local t0 = socket.gettime()
      local code, pcm = request("GET", st.audio_file.url)
      assert.equal(200, code)
      assert.equal(64000, #pcm)
      assert.truthy(socket.gettime() - t0 >= 0.25)
    end)

    it("make the next job end with status error", function()
      mock:config({ duration = 0 })
      mock:fault({ job_error = { name = "GenerationError", message = "lyrics rejected" } })
      local _, created = submit(params())
      local status, st = poll(created.id)
      assert.equal(200, status)
      assert.equal("error", st.status)
      assert.same({ name = "GenerationError", message = "lyrics rejected" }, st.error)
      assert.is_nil(st.audio_file)
      _, created = submit(params())
      _, st = poll(created.id)
      assert.equal("completed", st.status)
    end)

    it("are rejected when malformed", function()
      assert.has_error(function() mock:fault({ action = "explode" }) end)
      assert.has_error(function() mock:fault({ host = "elsewhere", status = 500 }) end)
      assert.has_error(function() mock:config({ nope = 1 }) end)
    end)
  end)

  describe("HTTP", function()
    it("logs requests with headers, and keep-alive requests share a connection id", function()
      local c = connect(mock.api_url)
      local req = "GET /v2/generate/audio?generation_id=a%3Ab HTTP/1.1\r\nHost: api\r\nX-Test: one\r\n"
        .. "Authorization: Bearer " .. mock.key .. "\r\n\r\n"
      c:send(req)
      local r1 = assert(read_response(c))
      c:send(req)
      local r2 = assert(read_response(c))
      c:close()
      assert.equal(404, r1.status)
      assert.equal(404, r2.status)
      submit(params())
      local log = mock:requests()
      assert.equal(3, #log)
      assert.equal(log[1].conn, log[2].conn)
      assert.not_equal(log[1].conn, log[3].conn)
      assert.equal("api", log[1].host)
      assert.equal("GET", log[1].method)
      assert.equal("/v2/generate/audio", log[1].path)
      assert.equal("generation_id=a%3Ab", log[1].query)
      assert.equal("one", log[1].headers["x-test"])
      assert.equal("POST", log[3].method)
      assert.same(params(), json.decode(log[3].body))
      assert.equal("number", type(log[3].time))
    end)

    it("handles requests split over TCP segments and pipelined requests", function()
      local c = connect(mock.api_url)
      local body = json.encode(params())
      local req = "POST /v2/generate/audio HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer " .. mock.key
        .. "\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
      for i = 1, #req, 7 do
        c:send(req:sub(i, i + 6))
        socket.sleep(0.001)
      end
      local r = assert(read_response(c))
      assert.equal(200, r.status)
      c:send(req .. req)
      assert.equal(200, assert(read_response(c)).status)
      assert.equal(200, assert(read_response(c)).status)
      c:close()
      assert.equal(3, #mock:jobs())
    end)

    it("honours Connection: close and Expect: 100-continue", function()
      local c = connect(mock.api_url)
      c:send("GET /_mock/jobs HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n")
      local r = assert(read_response(c))
      assert.equal(200, r.status)
      assert.equal("[]", r.body)
      local _, err = c:receive(1)
      assert.equal("closed", err)
      c:close()
      c = connect(mock.api_url)
      local body = json.encode(params())
      c:send("POST /v2/generate/audio HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer " .. mock.key
        .. "\r\nExpect: 100-continue\r\nContent-Length: " .. #body .. "\r\n\r\n")
      assert.equal(100, assert(read_response(c)).status)
      c:send(body)
      assert.equal(200, assert(read_response(c)).status)
      c:close()
    end)

    it("answers 400 to a malformed request and 411 to a chunked upload, and keeps running", function()
      local c = connect(mock.api_url)
      c:send("this is not http\r\n\r\n")
      local r = assert(read_response(c))
      assert.equal(400, r.status)
      local _, err = c:receive(1)
      assert.equal("closed", err)
      c:close()
      c = connect(mock.api_url)
      c:send("POST /v2/generate/audio HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\n\r\n"
        .. "5\r\nhello\r\n0\r\n\r\n")
      assert.equal(411, assert(read_response(c)).status)
      c:close()
      assert.equal(200, (submit(params())))
    end)
  end)

  describe("control channel", function()
    it("config changes the key, reset restores everything", function()
      mock:config({ key = "other-key" })
      assert.equal(401, (submit(params())))
      assert.equal(200, (submit(params(), "other-key")))
      mock:fault({ status = 500, times = 5 })
      mock:fault({ job_error = { name = "X", message = "y" } })
      assert.equal(1, #mock:jobs())
      assert.equal(2, #mock:requests())
      mock:reset()
      assert.same({}, mock:jobs())
      assert.same({}, mock:requests())
      assert.same({}, mock:faults())
      mock:config({ duration = 0 })
      local status, created = submit(params())
      assert.equal(200, status)
      local _, st = poll(created.id)
      assert.equal("completed", st.status)
    end)

    it("finish ends one running job now, and refuses an unknown id", function()
      mock:config({ duration = 60 })
      local _, one = submit(params())
      local _, two = submit(params())
      assert.equal("queued", select(2, poll(one.id)).status)
      mock:finish(one.id)
      local _, st = poll(one.id)
      assert.equal("completed", st.status)
      assert.truthy(st.audio_file.url)
      assert.equal("queued", select(2, poll(two.id)).status)
      assert.has_error(function() mock:finish("no-such-job") end)
    end)
  end)

  describe("process", function()
    local lua = util.LUA

    -- #posix: needs luv: the mock process runs on the specs' interpreter
    it("exits after --max-lifetime and when stdin closes with --watch-stdin #posix", function()
      local t0 = socket.gettime()
      local out = util.sh(lua .. " bin/aimlmusic-mock --port 0 --max-lifetime 0.3 --cdn-host 127.0.0.1", true)
      local line = "^aimlmusic mock: api http://127%.0%.0%.1:%d+ cdn http://127%.0%.0%.1:%d+\n$"
      assert.truthy(out:match(line), out)
      assert.truthy(socket.gettime() - t0 < 3)
      t0 = socket.gettime()
      out = util.sh("printf '' | " .. lua .. " bin/aimlmusic-mock --port 0 --watch-stdin", true)
      assert.truthy(out:find("aimlmusic mock: api", 1, true), out)
      assert.truthy(socket.gettime() - t0 < 3)
    end)

    -- #posix: needs luv
    it("can be embedded: start() and close() on the caller's luv loop #posix", function()
      -- In a process of its own: this one's luv loop belongs to the specs of aimlmusic.uv.
      local script = [==[
        local uv = require("luv")
        local m = require("aimlmusic.mock")
        local srv = assert(m.start({ duration = 0 }))
        assert(srv.api_url:match("^http://127%.0%.0%.1:%d+$"), srv.api_url)
        local host, port = srv.api_url:match("^http://([^:/]+):(%d+)")
        local client = uv.new_tcp()
        local got, cerr = "", nil
        client:connect(host, tonumber(port), function(err)
          if err then
            cerr = err
            client:close()
            srv:close()
            return
          end
          client:read_start(function(rerr, data)
            if data then got = got .. data end
            if rerr or not data or got:find("%]$") then
              client:close()
              srv:close()
            end
          end)
          client:write("GET /_mock/jobs HTTP/1.1\r\nHost: x\r\n\r\n")
        end)
        local timer = uv.new_timer()
        timer:start(5000, 0, function() client:close(); srv:close() end)
        timer:unref()
        uv.run()
        timer:close()
        uv.run("nowait")
        io.write(cerr and ("ERROR " .. cerr) or got)
      ]==]
      local path = os.tmpname()
      util.write_file(path, script)
      local got = util.sh("env -u LD_PRELOAD LUA_PATH='./lua/?.lua;;' LUA_CPATH=" .. util.q(util.plain_cpath(lua))
        .. " " .. lua .. " " .. util.q(path), true)
      os.remove(path)
      assert.truthy(got:match("^HTTP/1%.1 200 OK\r\n"), got)
      assert.truthy(got:match("\r\n\r\n%[%]$"), got)
    end)
  end)
end)
