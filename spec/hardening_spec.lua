-- What a hostile server, a careless option or a failing callback must not get past: the URL
-- rule (userinfo, redirects, downgrades), the speed floor, the size cap, long file names, the
-- cleanup of partial files, directory fsync and the one rule for numeric options. Against the
-- mock over loopback (and openssl s_server for https).

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local fixture = require "support.fixture"
local util = require "support.util"
local tls_server = require "support.tls_server"

local q, ls, read_file, fetch = util.q, util.ls, util.read_file, util.fetch

-- Runs fn in a task; gives up (cancelling it) after `limit` seconds. Returns what fn returned,
-- or nil, "gave up" when it ran past the limit.
local function within(limit, fn)
  local task = music.spawn(fn)
  local deadline = core.now() + limit
  while not task:done() and core.now() < deadline do music.step(50) end
  if not task:done() then
    task:cancel()
    return nil, "gave up after " .. limit .. " s"
  end
  assert(task.state == "done", tostring(task.error))
  return task:result()
end

local function partials(dir)
  local out = {}
  for _, name in ipairs(ls(dir)) do
    if name:find(".part-", 1, true) then out[#out + 1] = name end
  end
  return out
end

describe("hardening", function()
  local env = fixture.mock_client { duration = 0.1 }

  local function subdir(name)
    return util.mkdir(env.dir .. "/" .. name)
  end

  describe("the URL rule", function()
    it("refuses a user name or password in base_url, whatever the host looks like", function()
      for _, url in ipairs { "http://127.0.0.1:80@evil.example", "http://[::1]@evil.example",
                             "http://localhost@evil.example/", "https://user:pw@api.example.com",
                             "http://127.0.0.1:9@127.0.0.1:9" } do
        local c, err = music.new { api_key = "k", base_url = url }
        assert.is_nil(c, url)
        assert.equal("config", err.kind, url)
      end
      -- The same hosts without the userinfo trick are fine.
      assert.truthy(music.new { api_key = "k", base_url = "http://127.0.0.1:80" })
      assert.truthy(music.new { api_key = "k", base_url = "http://[::1]:9" })
    end)

    it("refuses such an audio URL before any request", function()
      local url = env.mock.cdn_url:gsub("^http://", "http://127.0.0.1:1@") .. "/audio/x.wav"
      local info, err = env.client:download(url, env.dir .. "/userinfo.wav")
      assert.is_nil(info)
      assert.equal("config", err.kind)
      assert.same({}, env.mock:requests())
    end)

    it("follows a redirect to loopback http", function()
      local st = env.completed()
      local target = st.url:gsub("^http://[^/]+", env.mock.cdn_url)
      env.mock:fault { host = "cdn", status = 302, headers = { Location = target } }
      local path = env.dir .. "/redirected.wav"
      local info = assert(env.client:download(st.url, path))
      assert.equal(fetch(st.url), read_file(path))
      assert.equal(#read_file(path), info.bytes)
    end)

    it("refuses a redirect to plain http beyond loopback, sending nothing there", function()
      local st = env.completed()
      local sub = subdir("redir-away")
      env.mock:fault { host = "cdn", status = 302, headers = { Location = "http://cdn.example.invalid/a.wav" } }
      local c = env.new_client { max_retries = 2 }
      local info, err = c:download(st.url, sub .. "/a.wav")
      assert.is_nil(info)
      assert.equal("config", err.kind, tostring(err))
      assert.is_false(err.retryable)
      assert.matches("plain http", err.message)
      assert.same({}, ls(sub))
      assert.equal(1, #util.select_reqs(env.mock:requests(), "cdn", "GET"))
    end)

    it("refuses a redirect to a URL with userinfo", function()
      local st = env.completed()
      local sub = subdir("redir-userinfo")
      local evil = env.mock.cdn_url:gsub("^http://", "http://127.0.0.1:80@") .. "/audio/x.wav"
      env.mock:fault { host = "cdn", status = 301, headers = { Location = evil } }
      local info, err = env.client:download(st.url, sub .. "/a.wav")
      assert.is_nil(info)
      assert.equal("config", err.kind, tostring(err))
      assert.same({}, ls(sub))
    end)

    describe("from https", function()
      local tls, server

      setup(function()
        tls = util.tmpdir()
        server = tls_server.start(tls, "-HTTP")
      end)

      teardown(function()
        if server then server.stop() end
        util.rm_rf(tls)
      end)

      -- #posix: needs OpenSSL's libcurl: Schannel in libcurl 7.88 cannot match an IP address
      it("never downgrades to http, even to loopback #posix", function()
        local st = env.completed()
        util.write_file(tls .. "/down", "HTTP/1.0 302 Found\r\nLocation: " .. st.url
          .. "\r\nContent-Length: 0\r\n\r\n")
        local c = env.new_client { ca_file = tls .. "/cert.pem", max_retries = 0 }
        local sub = subdir("downgrade")
        local info, err = c:download("https://127.0.0.1:" .. server.port .. "/down", sub .. "/a.wav")
        assert.is_nil(info)
        assert.equal("config", err.kind, tostring(err))
        assert.matches("https to plain http", err.message)
        assert.same({}, ls(sub))
        assert.same({}, util.select_reqs(env.mock:requests(), "cdn", "GET"))
      end)
    end)
  end)

  describe("the speed floor", function()
    it("ends a trickling download as a retryable timeout, leaving no file", function()
      local st = env.completed()
      local sub = subdir("trickle")
      local c = env.new_client { low_speed_limit = 1024, low_speed_time = 1, max_retries = 0 }
      env.mock:fault { host = "cdn", action = "trickle", delay_ms = 100 } -- 160 bytes a second
      local t0 = core.now()
      local info, err = within(15, function() return c:download(st, sub .. "/slow.wav") end)
      assert.is_nil(info)
      assert.is_table(err, tostring(err))
      assert.equal("timeout", err.kind, tostring(err))
      assert.is_true(err.retryable)
      assert.is_true(core.now() - t0 < 10, "took " .. (core.now() - t0) .. " s")
      assert.same({}, ls(sub))
    end)

    it("is retried like any timeout: the next attempt resumes", function()
      local st = env.completed()
      local c = env.new_client { low_speed_limit = 1024, low_speed_time = 1, max_retries = 2 }
      env.mock:fault { host = "cdn", action = "trickle", delay_ms = 100 }
      local path = env.dir .. "/trickle-retried.wav"
      local info, err = within(15, function() return c:download(st, path) end)
      assert.is_table(info, tostring(err))
      assert.equal(fetch(st.url), read_file(path))
    end)
  end)

  describe("the size cap", function()
    it("ends an endless body at max_bytes as a protocol error, leaving no file", function()
      local st = env.completed()
      local sub = subdir("endless")
      local c = env.new_client { max_bytes = 1024 * 1024, max_retries = 2 }
      env.mock:fault { host = "cdn", action = "endless" }
      local info, err = within(15, function() return c:download(st.url, sub .. "/big.wav") end)
      assert.is_nil(info)
      assert.is_table(err, tostring(err))
      assert.equal("protocol", err.kind, tostring(err))
      assert.is_false(err.retryable)
      assert.matches("max_bytes", err.message)
      assert.same({}, ls(sub))
      assert.equal(1, #util.select_reqs(env.mock:requests(), "cdn", "GET"))
    end)

    it("refuses a Content-Length past max_bytes before writing", function()
      local st = env.completed()
      local sub = subdir("cap")
      local c = env.new_client { max_bytes = st.size - 1 }
      local info, err = c:download(st, sub .. "/a.wav")
      assert.is_nil(info)
      assert.equal("protocol", err.kind, tostring(err))
      assert.same({}, ls(sub))
      assert(env.new_client { max_bytes = st.size }:download(st, sub .. "/a.wav"))
    end)

    it("refuses a download whose size differs from the job's reported size", function()
      local st = env.completed()
      assert.is_true(st.size > 0)
      local sub = subdir("size")
      for _, size in ipairs { st.size + 1, st.size - 1 } do
        local info, err = env.client:download(setmetatable({ size = size }, { __index = st }), sub .. "/a.wav")
        assert.is_nil(info, "size " .. size)
        assert.equal("protocol", err.kind, tostring(err))
        assert.same({}, ls(sub))
      end
      assert(env.client:download(st, sub .. "/a.wav"))
    end)
  end)

  describe("temporary files", function()
    -- #posix: needs the host's file calls: wine fails to link a 254-byte UTF-8 name (ERROR_ALREADY_EXISTS)
    it("fit beside a target whose name is 255 bytes long #posix", function()
      local st = env.completed()
      local sub = subdir("long")
      for _, len in ipairs { 243, 250, 255 } do
        local name = ("n"):rep(len - 4) .. ".wav"
        local info, err = env.client:download(st, sub .. "/" .. name)
        assert.is_table(info, len .. ": " .. tostring(err))
        assert.equal(fetch(st.url), read_file(sub .. "/" .. name))
      end
      -- A UTF-8 name is cut between characters, never inside one.
      local name = ("é"):rep(125) .. ".wav" -- 254 bytes
      assert(env.client:download(st, sub .. "/" .. name))
      assert.same({}, partials(sub))
    end)

    it("left by a crash beside a long target are found and removed", function()
      local sub = subdir("long-stale")
      local name = ("s"):rep(251) .. ".wav"
      local stale = ("s"):rep(243) .. ".part-0a1b2c"
      util.write_file(sub .. "/" .. stale, "half")
      util.write_file(sub .. "/other.part-0a1b2c", "not ours")
      assert.equal(1, core.remove_partials(sub .. "/" .. name))
      assert.same({ "other.part-0a1b2c" }, ls(sub))
    end)

    it("of a download in flight are left alone by remove_partials, here and in other processes", function()
      local st = env.completed()
      local sub = subdir("live")
      local path = sub .. "/live.wav"
      util.write_file(path .. ".part-abc123", "stale")
      env.mock:fault { host = "cdn", action = "trickle", delay_ms = 50 }
      local task = music.spawn(function() return env.client:download(st, path) end)
      local deadline = core.now() + 10
      while #partials(sub) < 2 and core.now() < deadline do music.step(20) end
      assert.equal(2, #partials(sub))
      local script = sub .. "/../live-child.lua"
      util.write_file(script, ("package.cpath = %q\nprint(require('aimlmusic.core').remove_partials(%q))\n")
        :format(package.cpath, path))
      local child = util.sh(util.LUA .. " " .. q(script))
      assert.equal("1", child:match("%S+"), "the other process removed: " .. child)
      assert.equal(0, core.remove_partials(path))
      assert.equal(1, #partials(sub), "the live partial file is gone")
      task:cancel()
      -- Removed on a worker: the steps drain its job.
      local t1 = core.now()
      while #partials(sub) > 0 and core.now() - t1 < 5 do music.step(10) end
      assert.same({}, partials(sub))
    end)
  end)

  describe("a raising on_progress", function()
    it("stops its transfer and removes the temporary file at once; the error propagates", function()
      local st = env.completed()
      local sub = subdir("raise")
      env.mock:fault { host = "cdn", action = "trickle", delay_ms = 50 }
      local boom = { "boom" }
      local ok, e = pcall(env.client.download, env.client, st, sub .. "/a.wav", {
        on_progress = function(done) if done > 0 then error(boom) end end,
      })
      assert.is_false(ok)
      assert.equal(boom, e)
      assert.same({}, ls(sub))
      assert.equal(0, core.engine():count())
    end)

    it("inside a task, the same", function()
      local st = env.completed()
      local sub = subdir("raise-task")
      env.mock:fault { host = "cdn", action = "trickle", delay_ms = 50 }
      local task = music.spawn(function()
        return env.client:download(st, sub .. "/a.wav", { on_progress = function(done)
          if done > 0 then error("boom") end
        end })
      end)
      local ok = pcall(music.run)
      assert.is_false(ok)
      assert.equal("failed", task.state)
      assert.same({}, ls(sub))
      assert.equal(0, core.engine():count())
    end)
  end)

  describe("task:cancel() between retries", function()
    it("removes the partial file kept for resuming", function()
      local st = env.completed()
      local sub = subdir("cancel-backoff")
      env.mock:fault { host = "cdn", action = "truncate" }
      local task = music.spawn(function() return env.client:download(st, sub .. "/a.wav") end)
      local deadline = core.now() + 10
      -- Until the cut download has failed and the task sleeps before its retry.
      while not (#partials(sub) == 1 and task.state == "waiting" and task.transfer == nil)
        and core.now() < deadline do
        music.step(5)
      end
      assert.equal(1, #partials(sub))
      assert.is_nil(task.transfer)
      task:cancel()
      -- Removed on a worker: the steps drain its job.
      local t1 = core.now()
      while #ls(sub) > 0 and core.now() - t1 < 5 do music.step(10) end
      assert.same({}, ls(sub))
    end)
  end)

  describe("the commit", function()
    -- #posix: needs strace
    it("fsyncs the target's directory after the final link #posix", function()
      local st = env.completed()
      local sub = subdir("dirsync")
      local trace = sub .. "/../dirsync.trace"
      local script = ([[
        package.path = %s; package.cpath = %s
        local music = require "aimlmusic"
        local c = assert(music.new { api_key = %s, base_url = %s })
        assert(c:download(%s, %s))
      ]]):format(("%q"):format(package.path), ("%q"):format(package.cpath), ("%q"):format(env.mock.key),
        ("%q"):format(env.mock.api_url), ("%q"):format(st.url), ("%q"):format(sub .. "/a.wav"))
      util.write_file(sub .. "/../dirsync.lua", script)
      -- LeakSanitizer (make asan) cannot run under ptrace: the child is traced without it.
      local out = util.sh(("ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" strace -f -qq"
        .. " -e trace=openat,link,rename,fsync,close -o %s %s %s 2>&1 && echo OK")
        :format(q(trace), util.LUA, q(sub .. "/../dirsync.lua")))
      assert.matches("OK\n$", out)
      local log = read_file(trace)
      local linked = log:find('link%("[^"]*part%-%x+", "[^"]*/a%.wav"%) = 0')
      assert.truthy(linked, "no link of the temporary file:\n" .. log)
      -- After the link: the directory opened, then that descriptor fsynced.
      local dirfd = log:sub(linked):match('openat%(AT_FDCWD, "[^"]*dirsync", O_RDONLY[^)]*O_DIRECTORY[^)]*%) = (%d+)')
      assert.truthy(dirfd, "the directory was not opened after the link:\n" .. log:sub(linked))
      local after = log:sub(linked)
      assert.truthy(after:find("fsync%(" .. dirfd .. "%)%s*= 0"), "no fsync of the directory:\n" .. after)
    end)
  end)

  describe("numeric options", function()
    local OPTIONS = { "timeout", "connect_timeout", "poll_interval", "wait_timeout", "max_retries",
                      "low_speed_limit", "low_speed_time", "max_bytes" }
    local WHOLE = { max_retries = true, low_speed_limit = true, low_speed_time = true, max_bytes = true }

    it("refuse every bad value with a config error, never a raise", function()
      for _, k in ipairs(OPTIONS) do
        local bad = { -1, math.huge, -math.huge, 0 / 0, "soon", true, {} }
        if k ~= "max_retries" then bad[#bad + 1] = 0 end
        if WHOLE[k] then bad[#bad + 1] = 1.5 end
        for _, v in ipairs(bad) do
          local ok, c, err = pcall(music.new, { api_key = "k", base_url = env.mock.api_url, [k] = v })
          local what = k .. " = " .. tostring(v)
          assert.is_true(ok, what .. " raised: " .. tostring(c))
          assert.is_nil(c, what .. " was accepted")
          assert.equal("config", err.kind, what)
          assert.matches(k, err.message, 1, true)
        end
      end
    end)

    it("accept sensible values", function()
      assert(music.new { api_key = "k", base_url = env.mock.api_url, timeout = 0.5, connect_timeout = 86400,
        poll_interval = 0.01, wait_timeout = 1e6, max_retries = 0, low_speed_limit = 1, low_speed_time = 1,
        max_bytes = 2 ^ 40 })
    end)
  end)
end)
