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
    local done, placed, seen, path = methods.done, {}, setmetatable({}, { __mode = "k" }), nil
    local st = env.completed()
    local full = fetch(st.url)
    methods.done = function(t)
      local d = done(t)
      if d and not seen[t] and tostring(t):find("download", 1, true) then
        seen[t] = true
        placed[#placed + 1] = read_file(path) == full
      end
      return d
    end
    finally(function() methods.done = done end)
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
