-- Downloads: a cut transfer resumes with Range (or starts over where the server ignores it),
-- a short body is refused, an expired signed URL is refreshed once, and a full disk or a
-- directory that cannot hold the file gives kind io with no file left behind.

local music = require "aimlmusic"
local fixture = require "support.fixture"
local child = require "support.child"
local util = require "support.util"
local assert_error = require("support.errors").assert_error

local read_file, write_file, ls, mkdir, fetch = util.read_file, util.write_file, util.ls, util.mkdir, util.fetch
local select_reqs = util.select_reqs

local env = fixture.mock_client { duration = 0.2 }

describe("downloads", function()
  it("resume a cut transfer with Range where the server allows it", function()
    local st = env.completed()
    local full = fetch(st.url)
    local before = #env.mock:requests()
    env.mock:fault { host = "cdn", action = "truncate" }
    local path = env.dir .. "/resumed.wav"
    local info = assert(env.client:download(st, path))
    assert.equal(#full, info.bytes)
    assert.equal(full, read_file(path))
    local cdn = select_reqs(env.since(before), "cdn", "GET")
    assert.equal(2, #cdn)
    assert.is_nil(cdn[1].headers.range)
    local from = tonumber((cdn[2].headers.range or ""):match("^bytes=(%d+)%-$"))
    assert.is_number(from, "second request without Range: " .. tostring(cdn[2].headers.range))
    assert.is_true(from > 0 and from < #full)
  end)

  it("start over where the server ignores Range", function()
    local st = env.completed()
    local full = fetch(st.url)
    local before = #env.mock:requests()
    local sub = mkdir(env.dir .. "/over")
    env.mock:fault { host = "cdn", action = "truncate" }
    -- The same bytes again, 200 and whole: a server that does not do ranges.
    env.mock:fault { host = "cdn", status = 200, body = full, headers = { ["Content-Type"] = "audio/wav" } }
    local info = assert(env.client:download(st, sub .. "/x.wav"))
    assert.equal(#full, info.bytes)
    assert.equal(full, read_file(sub .. "/x.wav"))
    assert.same({ "x.wav" }, ls(sub))
    local cdn = select_reqs(env.since(before), "cdn", "GET")
    assert.equal(3, #cdn)
    assert.is_string(cdn[2].headers.range)
    assert.is_nil(cdn[3].headers.range)
  end)

  it("refuse a body shorter than its Content-Length, leaving no file", function()
    local st = env.completed()
    local sub = mkdir(env.dir .. "/short")
    local c = env.new_client { max_retries = 1 }
    env.mock:fault { host = "cdn", status = 200, body = "RIFF0123", times = -1,
                 headers = { ["Content-Length"] = "1000", Connection = "close" } }
    local info, err = c:download(st, sub .. "/x.wav")
    assert.is_nil(info)
    assert.is_true(music.is_error(err))
    assert.is_boolean(err.retryable)
    assert.same({}, ls(sub))
  end)

  it("refresh an expired audio URL with one status call and retry", function()
    local st = env.completed()
    local fresh = st.url
    st.url = fresh:gsub("Signature=%x+", "Signature=0000")
    assert.not_equal(fresh, st.url)
    local path = env.dir .. "/refreshed.wav"
    local before = #env.mock:requests()
    local info = assert(env.client:download(st, path))
    local after = env.since(before)
    assert.equal(fresh, st.url)
    assert.equal(fetch(fresh), read_file(path))
    assert.equal(info.bytes, #read_file(path))
    assert.equal(1, #select_reqs(after, "api", "GET"))
    assert.equal(0, #select_reqs(after, "api", "POST"))
    assert.equal(2, #select_reqs(after, "cdn", "GET"))
  end)

  it("make no status call for a 403 on a bare URL, and report kind http", function()
    local st = env.completed()
    local before = #select_reqs(env.mock:requests(), "api")
    env.mock:fault { host = "cdn", status = 403, body = "<Error>AccessDenied</Error>", times = 5 }
    local info, err = env.client:download(st.url, env.dir .. "/bare403.wav")
    assert.is_nil(info)
    assert_error(err, "http")
    assert.equal(403, err.status)
    assert.equal(before, #select_reqs(env.mock:requests(), "api"))
  end)

  -- #posix: needs ulimit -f
  it("give kind io, not retried, and remove the temporary file when the disk is full #posix", function()
    local st = env.completed()
    local sub = mkdir(env.dir .. "/full")
    -- 64 blocks of 512 bytes: the 170 KiB WAV does not fit.
    local proc = child.start("trap '' XFSZ; ulimit -f 64;", "download", env.mock.api_url, env.mock.key, st.url,
      sub .. "/x.wav")
    local out = proc.finish()
    local kind, code = out:match("result (%S+) (%S+)")
    assert.equal("io", kind, out)
    assert.equal("EFBIG", code, out) -- the cause, not libcurl's WRITE_ERROR
    assert.matches("File too large", out, 1, true)
    assert.same({}, ls(sub))
    assert.equal(1, #select_reqs(env.mock:requests(), "cdn", "GET"))
  end)

  -- The move into place is the last job of the download's stream: the transfer is done once,
  -- with its file in place, and nothing is left for Lua to ask for between done and finish.
  it("complete once, in place: the file is at its path when the transfer is first done", function()
    local methods = debug.getregistry()["aimlmusic.transfer"].__index
    assert.is_nil(methods.commit)
    local done, wait, placed, seen, path = methods.done, methods.wait, {}, setmetatable({}, { __mode = "k" }), nil
    local st = env.completed()
    local full = fetch(st.url)
    local function first_done(t)
      if not seen[t] and tostring(t):find("download", 1, true) then
        seen[t] = true
        placed[#placed + 1] = read_file(path) == full
      end
    end
    -- A task asks done(); a blocking call waits in C (wait() returns when it is done).
    methods.done = function(t)
      local d = done(t)
      if d then first_done(t) end
      return d
    end
    methods.wait = function(t)
      wait(t)
      first_done(t)
    end
    finally(function() methods.done, methods.wait = done, wait end)
    local sub = mkdir(env.dir .. "/once")
    for _, where in ipairs { "blocking", "task" } do
      path = ("%s/%s.wav"):format(sub, where)
      local info
      if where == "task" then
        music.spawn(function() info = assert(env.client:download(st, path)) end)
        music.run()
      else
        info = assert(env.client:download(st, path))
      end
      assert.equal(#full, info.bytes)
    end
    assert.same({ true, true }, placed)
    assert.same({ "blocking.wav", "task.wav" }, ls(sub))
  end)

  -- A process of its own: the shim (bench/slow_fsync.c, preloaded) makes every fsync 2 s long
  -- and marks when the first one begins and ends. The task is cancelled while its download's
  -- file is being fsynced on a worker, before it is linked into place.
  it("let a task be cancelled while its file is moved into place without waiting for the disk #posix", function()
    local so = env.dir .. "/slow_fsync_cancel.so"
    -- (not with the sanitizer runtime that make asan preloads: cc is not built for it)
    assert(util.execute("env -u LD_PRELOAD cc -O2 -shared -fPIC -o " .. util.q(so) .. " bench/slow_fsync.c -ldl"))
    local st = env.completed()
    local sub = mkdir(env.dir .. "/cancel-move")
    local script = env.dir .. "/cancel_move.lua"
    write_file(script, [[
      local music, core, cjson = require "aimlmusic", require "aimlmusic.core", require "cjson"
      local st, path, mark = cjson.decode(arg[1]), arg[2], arg[3]
      local client = assert(music.new { api_key = arg[4], base_url = arg[5] })
      local function exists(p)
        local f = io.open(p, "rb")
        if f then f:close() end
        return f ~= nil
      end
      local task = music.spawn(function() return client:download(st, path) end)
      local t0 = core.now()
      while not exists(mark .. ".began") and not task:done() and core.now() - t0 < 60 do music.step(5) end
      local began = exists(mark .. ".began")
      local c0 = core.now()
      task:cancel()
      local took = core.now() - c0
      local ended = exists(mark .. ".ended")
      local _, why = task:result()
      t0 = core.now()
      while not exists(path) and core.now() - t0 < 60 do music.step(5) end
      print(began, ended, why, exists(path), ("%.3f"):format(took))
    ]])
    local preload = ((os.getenv("LD_PRELOAD") or "") .. " " .. so):gsub("^ ", "")
    local out = util.sh(("LD_PRELOAD=%s SLOW_FSYNC_MS=2000 SLOW_FSYNC_MARK=%s %s %s %s %s %s %s %s"):format(
      util.q(preload), util.q(env.dir .. "/fsync"), os.getenv("AIMLMUSIC_TEST_LUA") or "lua5.4", util.q(script),
      util.q(require("cjson").encode(st)), util.q(sub .. "/x.wav"), util.q(env.dir .. "/fsync"),
      util.q(env.mock.key), util.q(env.mock.api_url)), true)
    local began, ended, why, placed = out:match("^(%S+)%s+(%S+)%s+(%S+)%s+(%S+)%s+%S+")
    assert.equal("true", began, out) -- the move's fsync was under way
    -- The cancel returned while that fsync was still going: it did not wait for the disk.
    assert.equal("false", ended, out)
    assert.equal("cancelled", why, out)
    -- The move went on on its worker: the file is whole and in place, and nothing else is left.
    assert.equal("true", placed, out)
    assert.equal(fetch(st.url), read_file(sub .. "/x.wav"))
    assert.same({ "x.wav" }, ls(sub))
  end)

  -- Progress is what came, not what a worker has written yet (a piece of 56 KiB at a time): a
  -- slow download in a step loop reports each few hundred bytes, not one jump at the end.
  it("report a slow download's progress as its bytes come", function()
    local st = env.completed()
    local full = fetch(st.url)
    env.mock:fault { host = "cdn", action = "trickle", chunk_bytes = 2048, delay_ms = 40 }
    local seen = {}
    local task = music.spawn(function()
      return env.client:download(st, mkdir(env.dir .. "/trickle") .. "/t.wav", {
        on_progress = function(done) seen[#seen + 1] = done end,
      })
    end)
    local t0 = require("aimlmusic.core").now()
    while not task:done() and require("aimlmusic.core").now() - t0 < 60 do music.step(10) end
    local info = assert(task:result())
    assert.equal(#full, info.bytes)
    local before_half = 0
    for _, n in ipairs(seen) do
      if n > 0 and n < #full / 2 then before_half = before_half + 1 end
    end
    assert.is_true(before_half >= 5, #seen .. " reports: " .. table.concat(seen, " "))
  end)

  it("give kind io when the directory cannot hold the file", function()
    local st = env.completed()
    write_file(env.dir .. "/plain", "x")
    for _, path in ipairs({ env.dir .. "/plain/x.wav", "/proc/aimlmusic-test.wav" }) do
      local info, err = env.client:download(st, path)
      assert.is_nil(info, path)
      assert_error(err, "io")
      assert.is_nil(read_file(path))
    end
    assert.equal("x", read_file(env.dir .. "/plain"))
  end)
end)
