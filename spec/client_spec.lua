-- The public API against the mock server, over real HTTP on loopback.

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local fixture = require "support.fixture"
local util = require "support.util"
local socket = require "socket"
local json = require("cjson").new()

local PARAMS = util.PARAMS

local with, fetch, read_file, write_file = util.with, util.fetch, util.read_file, util.write_file
local ls, free_port, by_host = util.ls, util.free_port, util.select_reqs

describe("aimlmusic", function()
  local env = fixture.mock_client { duration = 0.3 }

  describe("music.new", function()
    it("keeps the key out of tostring(client)", function()
      local c = assert(music.new { api_key = "sk-very-secret-123", base_url = env.mock.api_url })
      assert.not_matches("sk%-very%-secret", tostring(c))
      assert.matches(env.mock.api_url, tostring(c), 1, true)
      for k, v in pairs(c) do
        assert.not_equal("sk-very-secret-123", v, "field " .. tostring(k))
      end
    end)

    it("refuses a key with CR or LF with a config error", function()
      local c, err = music.new { api_key = "abc\r\nX-Evil: 1", base_url = env.mock.api_url }
      assert.is_nil(c)
      assert.equal("config", err.kind)
      assert.not_matches("Evil", tostring(err))
    end)

    it("refuses a base URL that is not http(s)", function()
      local c, err = music.new { api_key = "k", base_url = "ftp://example.com" }
      assert.is_nil(c)
      assert.equal("config", err.kind)
    end)

    it("raises on misuse: a number where a table belongs", function()
      assert.has_error(function() music.new(42) end)
      assert.has_error(function() env.client:submit(42) end)
      assert.has_error(function() env.client:status({}) end)
      assert.is_nil((music.new { timeout = "soon" })) -- a bad option value: nil, config error
    end)

    it("gives a config error, and sends nothing, without a key", function()
      local c = assert(music.new { api_key = "", base_url = env.mock.api_url })
      local job, err = c:submit(PARAMS)
      assert.is_nil(job)
      assert.equal("config", err.kind)
      assert.matches("AIMLAPI_KEY", err.message)
      assert.same({}, env.mock:requests())
    end)
  end)

  describe("client:submit", function()
    it("posts the job with the key and returns {id, status, model}", function()
      local job = assert(env.client:submit(with(PARAMS, { audio_setting = { format = "wav", sample_rate = 44100 } })))
      assert.equal("queued", job.status)
      assert.equal("minimax/music-2.0", job.model)
      assert.matches(":minimax/music%-2%.0$", job.id)
      local reqs = env.mock:requests()
      assert.equal(1, #reqs)
      local r = reqs[1]
      assert.equal("POST", r.method)
      assert.equal("/v2/generate/audio", r.path)
      assert.equal("Bearer " .. env.mock.key, r.headers.authorization)
      assert.matches("application/json", r.headers["content-type"], 1, true)
      local body = json.decode(r.body)
      assert.equal(PARAMS.prompt, body.prompt)
      assert.equal(PARAMS.lyrics, body.lyrics)
      assert.same({ format = "wav", audio_sample_rate = 44100, bitrate = 256000 }, body.audio_setting)
    end)

    it("refuses invalid parameters before any request", function()
      local job, err = env.client:submit(with(PARAMS, { prompt = "short" }))
      assert.is_nil(job)
      assert.equal("validation", err.kind)
      assert.equal("prompt", err.fields[1].field)
      assert.same({}, env.mock:requests())
    end)

    it("maps a 400 from the server to kind validation with its messages as fields", function()
      env.mock:fault { method = "POST", status = 400,
        json = { statusCode = 400, message = { "prompt must be shorter", "lyrics should not be empty" },
                 requestId = "req-400" } }
      local job, err = env.client:submit(PARAMS)
      assert.is_nil(job)
      assert.equal("validation", err.kind)
      assert.equal(400, err.status)
      assert.equal("req-400", err.request_id)
      assert.equal("prompt", err.fields[1].field)
      assert.equal("lyrics", err.fields[2].field)
      assert.matches("prompt must be shorter; lyrics should not be empty", err.message, 1, true)
    end)

    it("maps a wrong key (401) to kind auth, not retried, key not shown", function()
      local c = assert(music.new { api_key = "wrong-key-xyz", base_url = env.mock.api_url })
      local job, err = c:submit(PARAMS)
      assert.is_nil(job)
      assert.equal("auth", err.kind)
      assert.equal(401, err.status)
      assert.is_false(err.retryable)
      assert.not_matches("wrong%-key%-xyz", tostring(err))
      assert.equal(1, #env.mock:requests())
    end)

    it("maps 403 to kind credits and never retries it", function()
      env.mock:fault { method = "POST", status = 403, times = 5 }
      local job, err = env.client:submit(PARAMS)
      assert.is_nil(job)
      assert.equal("credits", err.kind)
      assert.is_false(err.retryable)
      assert.equal(1, #env.mock:requests())
    end)

    it("retries a 429 (the server did not process it) and creates one job", function()
      env.mock:fault { method = "POST", status = 429, headers = { ["Retry-After"] = "0" } }
      local job = assert(env.client:submit(PARAMS))
      assert.equal("queued", job.status)
      assert.equal(2, #env.mock:requests())
      assert.equal(1, #env.mock:jobs())
    end)

    it("reports 429 as rate_limited and retryable once retries are spent", function()
      local c = assert(music.new { api_key = env.mock.key, base_url = env.mock.api_url, max_retries = 0 })
      env.mock:fault { method = "POST", status = 429, headers = { ["Retry-After"] = "7" } }
      local job, err = c:submit(PARAMS)
      assert.is_nil(job)
      assert.equal("rate_limited", err.kind)
      assert.is_true(err.retryable)
      assert.equal(7, err.retry_after)
    end)

    it("takes a Retry-After from its own answer only, on a handle an earlier request used", function()
      local c = assert(music.new { api_key = env.mock.key, base_url = env.mock.api_url, max_retries = 0 })
      local job = assert(c:submit(PARAMS))
      env.mock:fault { method = "GET", status = 429, headers = { ["Retry-After"] = "7" } }
      local _, err = c:status(job.id)
      assert.equal(7, err.retry_after)
      env.mock:fault { method = "GET", status = 503 }
      _, err = c:status(job.id)
      assert.equal("server", err.kind)
      assert.is_nil(err.retry_after)
    end)

    it("never repeats a submit after a 5xx: one call, one paid job at most", function()
      env.mock:fault { method = "POST", status = 502, times = 5 }
      local job, err = env.client:submit(PARAMS)
      assert.is_nil(job)
      assert.equal("server", err.kind)
      assert.equal(502, err.status)
      assert.is_false(err.retryable)
      assert.equal(1, #env.mock:requests())
    end)

    it("maps a non-JSON 200 to kind protocol", function()
      env.mock:fault { method = "POST", action = "garbage" }
      local job, err = env.client:submit(PARAMS)
      assert.is_nil(job)
      assert.equal("protocol", err.kind)
    end)

    it("maps a refused connection to kind network, retryable", function()
      local c = assert(music.new { api_key = "k", base_url = "http://127.0.0.1:" .. free_port(), max_retries = 0 })
      local job, err = c:submit(PARAMS)
      assert.is_nil(job)
      assert.equal("network", err.kind)
      assert.equal("COULDNT_CONNECT", err.code)
      assert.is_true(err.retryable)
    end)
  end)

  describe("client:status", function()
    it("percent-encodes the id's ':' and '/' in the query", function()
      local job = assert(env.client:submit(PARAMS))
      local st = assert(env.client:status(job.id))
      assert.equal(job.id, st.id)
      assert.equal("queued", st.status)
      local get = env.mock:requests()[2]
      assert.equal("GET", get.method)
      local encoded = job.id:gsub(":", "%%3A"):gsub("/", "%%2F")
      assert.equal("generation_id=" .. encoded, get.query)
    end)

    it("returns every documented field of a completed job", function()
      local job = assert(env.client:submit(PARAMS))
      socket.sleep(0.4)
      local st = assert(env.client:status(job.id))
      assert.equal("completed", st.status)
      assert.matches("^" .. env.mock.cdn_url:gsub("%p", "%%%0"), st.url)
      assert.is_number(st.duration_ms)
      assert.is_number(st.sample_rate)
      assert.is_number(st.channels)
      assert.is_number(st.bitrate)
      assert.is_number(st.size)
      assert.is_number(st.credits_used)
      assert.matches("^%x+$", st.trace_id)
      assert.equal(st.status, st.raw.status)
    end)

    it("maps an unknown id to not_found and names the id", function()
      local st, err = env.client:status("no-such-id:minimax/music-2.0")
      assert.is_nil(st)
      assert.equal("not_found", err.kind)
      assert.equal(404, err.status)
      assert.equal("no-such-id:minimax/music-2.0", err.id)
    end)

    it("maps 5xx on a poll to kind server, retryable", function()
      env.mock:fault { method = "GET", status = 503 }
      local st, err = env.client:status("x:minimax/music-2.0")
      assert.is_nil(st)
      assert.equal("server", err.kind)
      assert.is_true(err.retryable)
    end)

    it("reuses one connection for consecutive requests, submits included", function()
      local job = assert(env.client:submit(PARAMS))
      assert(env.client:status(job.id))
      assert(env.client:status(job.id))
      local job2 = assert(env.client:submit(PARAMS))
      local reqs = env.mock:requests()
      assert.equal(4, #reqs)
      -- A submit goes on a connection used under a second ago, never sent twice on it
      -- (connections_spec.lua).
      for i = 2, 4 do assert.equal(reqs[1].conn, reqs[i].conn) end
      assert.is_string(job2.id)
    end)
  end)

  describe("client:wait", function()
    it("follows a job to completed, reporting each status change once", function()
      local job = assert(env.client:submit(PARAMS))
      local seen = {}
      local st = assert(env.client:wait(job, { on_status = function(s) seen[#seen + 1] = s.status end }))
      assert.equal("completed", st.status)
      assert.same({ "queued", "generating", "completed" }, seen)
    end)

    it("takes an id string as well as a job table", function()
      local job = assert(env.client:submit(PARAMS))
      assert.equal("completed", assert(env.client:wait(job.id)).status)
    end)

    it("turns status error into kind job_failed with the provider's name and message", function()
      env.mock:fault { job_error = { name = "GenerationFailed", message = "lyrics rejected by moderation" } }
      local job = assert(env.client:submit(PARAMS))
      local st, err = env.client:wait(job)
      assert.is_nil(st)
      assert.equal("job_failed", err.kind)
      assert.equal("GenerationFailed", err.code)
      assert.equal("lyrics rejected by moderation", err.message)
      assert.equal(job.id, err.id)
    end)

    it("ends at its deadline with kind timeout and the job id, to wait again later", function()
      env.mock:config { duration = 30 }
      local job = assert(env.client:submit(PARAMS))
      local st, err = env.client:wait(job, { timeout = 0.2 })
      assert.is_nil(st)
      assert.equal("timeout", err.kind)
      assert.equal(job.id, err.id)
      assert.is_true(err.retryable)
    end)

    it("rides out a transient 503 while polling", function()
      local job = assert(env.client:submit(PARAMS))
      env.mock:fault { method = "GET", status = 503, headers = { ["Retry-After"] = "0" } }
      assert.equal("completed", assert(env.client:wait(job)).status)
    end)

    it("counts an undocumented status such as waiting as pending", function()
      local job = assert(env.client:submit(PARAMS))
      env.mock:fault { method = "GET", status = 200, json = { id = job.id, status = "waiting" } }
      local seen = {}
      local st = assert(env.client:wait(job, { on_status = function(s) seen[#seen + 1] = s.status end }))
      assert.equal("completed", st.status)
      assert.equal("waiting", seen[1])
    end)
  end)

  describe("client:download", function()
    local function completed(extra)
      return env.completed(with(PARAMS, extra))
    end

    it("writes exactly the bytes the CDN serves", function()
      local st = completed()
      local path = env.dir .. "/exact.mp3"
      local info = assert(env.client:download(st, path))
      local served = fetch(st.url)
      assert.equal(path, info.path)
      assert.equal(#served, info.bytes)
      assert.equal(served, read_file(path))
    end)

    it("never sends the Authorization header to the CDN host", function()
      local st = completed()
      assert(env.client:download(st.url, env.dir .. "/noauth.mp3"))
      local cdn = by_host(env.mock:requests(), "cdn")
      assert.equal(1, #cdn)
      assert.is_nil(cdn[1].headers.authorization)
      for _, r in ipairs(by_host(env.mock:requests(), "api")) do
        assert.equal("Bearer " .. env.mock.key, r.headers.authorization)
      end
    end)

    it("reports progress up to the total", function()
      local st = completed { audio_setting = { format = "wav" } }
      local calls, last_done, last_total = 0, nil, nil
      local info = assert(env.client:download(st, env.dir .. "/progress.wav", {
        on_progress = function(done, total)
          calls = calls + 1
          assert.is_true(last_done == nil or done >= last_done)
          last_done, last_total = done, total
        end,
      }))
      assert.is_true(calls >= 1)
      assert.equal(info.bytes, last_done)
      assert.equal(info.bytes, last_total)
      assert.equal("RIFF", read_file(env.dir .. "/progress.wav"):sub(1, 4))
    end)

    it("keeps an existing file unless overwrite = true", function()
      local st = completed()
      local path = env.dir .. "/keep.mp3"
      write_file(path, "precious")
      local info, err = env.client:download(st, path)
      assert.is_nil(info)
      assert.equal("io", err.kind)
      assert.equal("EEXIST", err.code)
      assert.equal("precious", read_file(path))
      assert(env.client:download(st, path, { overwrite = true }))
      assert.equal(fetch(st.url), read_file(path))
    end)

    it("leaves no file at the target, and no temporary file, when the transfer fails", function()
      local st = completed { audio_setting = { format = "wav" } }
      local sub = env.dir .. "/failed"
      util.mkdir(sub)
      env.mock:fault { host = "cdn", action = "truncate", times = 10 }
      -- one retry (it resumes from the cut file) rather than three: the same end, less backoff
      local info, err = env.client:download(st, sub .. "/cut.wav", { max_retries = 1 })
      assert.is_nil(info)
      assert.equal("network", err.kind)
      assert.same({}, ls(sub))
    end)

    it("maps a 403 from the CDN (an expired URL) to kind http, not credits", function()
      local st = completed()
      env.mock:fault { host = "cdn", status = 403, body = "<Error>AccessDenied</Error>" }
      local info, err = env.client:download(st, env.dir .. "/expired.mp3")
      assert.is_nil(info)
      assert.equal("http", err.kind)
      assert.equal(403, err.status)
      assert.is_nil(read_file(env.dir .. "/expired.mp3"))
    end)

    it("streams to disk: Lua memory does not grow with the file", function()
      env.mock:config { duration = 0.1, audio_seconds = 30 }
      local st = completed { audio_setting = { format = "wav", sample_rate = 44100 } }
      collectgarbage("collect")
      local before = collectgarbage("count")
      local info = assert(env.client:download(st, env.dir .. "/big.wav"))
      local grown = collectgarbage("count") - before
      assert.is_true(info.bytes > 2 * 1024 * 1024, "file of " .. info.bytes .. " bytes")
      assert.is_true(grown < 512, "Lua heap grew by " .. grown .. " KiB")
    end)
  end)

  describe("client:generate", function()
    it("submits, waits and downloads to opts.output", function()
      local seen = {}
      local path = env.dir .. "/generated.mp3"
      local st = assert(env.client:generate(PARAMS, {
        output = path,
        on_status = function(s) seen[#seen + 1] = s.status end,
      }))
      assert.equal("completed", st.status)
      assert.equal(path, st.path)
      assert.equal(st.bytes, #read_file(path))
      assert.equal("completed", seen[#seen])
    end)

    it("returns the completed status without downloading when no output is given", function()
      local st = assert(env.client:generate(PARAMS))
      assert.equal("completed", st.status)
      assert.is_nil(st.path)
      assert.equal(0, #by_host(env.mock:requests(), "cdn"))
    end)

    it("names the paid job when its download fails", function()
      env.mock:fault { host = "cdn", status = 404, times = 10 }
      local st, err = env.client:generate(PARAMS, { output = env.dir .. "/lost.mp3" })
      assert.is_nil(st)
      assert.equal("not_found", err.kind)
      assert.matches(":minimax/music%-2%.0$", err.id)
      assert.is_string(err.url)
    end)
  end)

  describe("tasks", function()
    it("run two generations together in about the time of the longer one", function()
      env.mock:config { duration = 1.5 }
      local t0 = core.now()
      local a = music.spawn(function() return env.client:generate(PARAMS) end)
      local b = music.spawn(function() return env.client:generate(with(PARAMS, { model = "minimax/music-1.5" })) end)
      music.run()
      local elapsed = core.now() - t0
      assert.equal("completed", (a:result()).status)
      assert.equal("completed", (b:result()).status)
      -- One after the other they would take at least 3 s.
      assert.is_true(elapsed < 2.6, "took " .. elapsed .. " s")
    end)

    it("yield inside a task: step(0) returns at once while a request is slow", function()
      local job = assert(env.client:submit(PARAMS))
      env.mock:fault { method = "GET", delay_ms = 800 }
      local task = music.spawn(function() return env.client:status(job.id) end)
      local t0 = core.now()
      local pending = music.step(0)
      assert.equal(1, pending)
      pending = music.step(0)
      assert.equal(1, pending)
      local scale = tonumber(os.getenv("AIMLMUSIC_TIME_SCALE")) or 1
      assert.is_true(core.now() - t0 < 0.3 * scale, "step(0) blocked")
      music.run()
      assert.equal(job.id, (task:result()).id)
    end)

    it("step(ms) sleeps in the kernel and returns the number of pending tasks", function()
      local task = music.spawn(function() return "done", 42 end)
      assert.equal(0, music.step(0))
      local a, b = task:result()
      assert.equal("done", a)
      assert.equal(42, b)
      local t0 = core.now()
      assert.equal(0, music.step(50))
      assert.is_true(core.now() - t0 < 1)
    end)

    it("cancel stops a task and its transfer at once", function()
      env.mock:fault { method = "GET", delay_ms = 5000 }
      local task = music.spawn(function() return env.client:status("x:minimax/music-2.0") end)
      music.step(0)
      music.step(20)
      task:cancel()
      assert.is_true(task:done())
      assert.same({ nil, "cancelled" }, { task:result() })
      assert.equal(0, music.step(0))
    end)

    it("re-raises a task's error from step, with a traceback", function()
      music.spawn(function() error("boom in task") end)
      local ok, msg = pcall(music.run)
      assert.is_false(ok)
      assert.matches("boom in task", msg)
      assert.matches("traceback", msg)
    end)

    it("step(0) spends at most its budget resuming tasks and leaves the rest for the next step", function()
      local done = 0
      for _ = 1, 50 do
        music.spawn(function()
          local t0 = core.now()
          repeat until core.now() - t0 >= 0.0005 -- half a millisecond of work
          done = done + 1
        end)
      end
      local pending = music.step(0, 2)
      assert.is_true(done >= 1 and done < 50, "ran " .. done .. " tasks in one step")
      assert.equal(50 - done, pending)
      music.run()
      assert.equal(50, done)
    end)

    it("passes arguments to the task function", function()
      local task = music.spawn(function(x, y) return x + y end, 2, 3)
      music.run()
      assert.equal(5, task:result())
    end)
  end)

  describe("errors", function()
    it("never show the API key, even when the server echoes it", function()
      local key = "sk-live-0123456789abcdef"
      env.mock:config { key = key }
      local c = assert(music.new { api_key = key, base_url = env.mock.api_url, max_retries = 0 })
      env.mock:fault { method = "POST", status = 500, json = { statusCode = 500, message = "bad token " .. key } }
      local _, err = c:submit(PARAMS)
      assert.equal("server", err.kind)
      assert.not_matches(key, tostring(err), 1, true)
      assert.not_matches(key, err.message, 1, true)
      assert.matches("[redacted]", err.message, 1, true)
    end)

    it("print on one line as aimlmusic: kind: message (details)", function()
      env.mock:fault { method = "POST", status = 429, json = { statusCode = 429, message = "slow\ndown", requestId = "r1" } }
      local c = assert(music.new { api_key = env.mock.key, base_url = env.mock.api_url, max_retries = 0 })
      local _, err = c:submit(PARAMS)
      local s = tostring(err)
      assert.equal("aimlmusic: rate_limited: slow\\ndown (HTTP 429, request_id r1)", s)
      assert.is_true(music.is_error(err))
    end)
  end)
end)
