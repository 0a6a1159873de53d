-- Every download ends: a redirect's endless body, a redirect with nothing to follow and a
-- trickle that keeps above the speed floor all end within download_timeout (plus a second),
-- leaving no file; a full disk says ENOSPC. Against the mock over loopback.

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local fixture = require "support.fixture"
local util = require "support.util"
local assert_error = require("support.errors").assert_error

local ls, read_file, fetch = util.ls, util.read_file, util.fetch

-- Runs fn in a task driven by step(); gives up (cancelling it) after limit seconds. Returns
-- the seconds it took and what fn returned.
local function timed(limit, fn)
  local task = music.spawn(fn)
  local t0 = core.now()
  while not task:done() and core.now() - t0 < limit do music.step(20) end
  local took = core.now() - t0
  if not task:done() then
    task:cancel()
    return took, nil, "gave up after " .. limit .. " s"
  end
  return took, task:result()
end

describe("every download ends", function()
  local env = fixture.mock_client { duration = 0.1 }
  local DEADLINE = 2
  -- What the end may come after the deadline: a second (more under valgrind, as the Makefile says).
  local SLACK = 1 * (tonumber(os.getenv("AIMLMUSIC_TIME_SCALE")) or 1)

  local function subdir(name)
    return util.mkdir(env.dir .. "/" .. name)
  end

  it("a 302 with an endless body: a protocol error once 64 KiB of it came, well within the deadline", function()
    local st = env.completed()
    local sub = subdir("endless-302")
    local c = env.new_client { download_timeout = DEADLINE }
    env.mock:fault { host = "cdn", status = 302, headers = { Location = st.url }, action = "endless" }
    local took, info, err = timed(10, function() return c:download(st, sub .. "/a.wav") end)
    assert.is_nil(info)
    assert_error(err, "protocol")
    assert.matches("redirect %(HTTP 302%)", err.message)
    assert.is_false(err.retryable)
    assert.is_true(took < DEADLINE + SLACK, "took " .. took .. " s")
    assert.same({}, ls(sub))
    assert.equal(1, #util.select_reqs(env.mock:requests(), "cdn", "GET"))
  end)

  it("a 300 without Location: a protocol error that says so, and with an endless body it ends too", function()
    local st = env.completed()
    local sub = subdir("no-location")
    local c = env.new_client { download_timeout = DEADLINE }
    env.mock:fault { host = "cdn", status = 300, body = "pick one" }
    local took, info, err = timed(10, function() return c:download(st, sub .. "/a.wav") end)
    assert.is_nil(info)
    assert_error(err, "protocol")
    assert.matches("HTTP 300 with no Location", err.message)
    assert.is_true(took < DEADLINE + SLACK, "took " .. took .. " s")
    env.mock:fault { host = "cdn", status = 300, action = "endless" }
    took, info, err = timed(10, function() return c:download(st, sub .. "/a.wav") end)
    assert.is_nil(info)
    assert_error(err, "protocol")
    assert.is_true(took < DEADLINE + SLACK, "took " .. took .. " s")
    assert.same({}, ls(sub))
  end)

  it("a redirect's short page is still followed", function()
    local st = env.completed()
    local path = env.dir .. "/followed.wav"
    env.mock:fault { host = "cdn", status = 307, headers = { Location = st.url }, body = ("moved "):rep(1000) }
    assert(env.client:download(st, path))
    assert.equal(fetch(st.url), read_file(path))
  end)

  it("a trickle above the speed floor ends at download_timeout, retries included", function()
    local st = env.completed()
    local sub = subdir("trickle")
    -- 80 bytes a second, above a floor of 16: only the deadline can end it.
    local c = env.new_client { download_timeout = DEADLINE, low_speed_limit = 16, low_speed_time = 1, max_retries = 3 }
    env.mock:fault { host = "cdn", action = "trickle", chunk_bytes = 8, delay_ms = 100, times = -1 }
    local took, info, err = timed(20, function() return c:download(st, sub .. "/a.wav") end)
    assert.is_nil(info)
    assert_error(err, "timeout")
    assert.matches("download_timeout", err.message)
    assert.is_true(took >= DEADLINE - 0.1 and took < DEADLINE + SLACK, "took " .. took .. " s")
    assert.same({}, ls(sub))
  end)

  it("download_timeout per call, in download's and generate's opts", function()
    local st = env.completed()
    local sub = subdir("per-call")
    env.mock:fault { host = "cdn", action = "trickle", chunk_bytes = 8, delay_ms = 100, times = -1 }
    local c = env.new_client { low_speed_limit = 16, max_retries = 0 }
    local took, info, err = timed(20, function() return c:download(st, sub .. "/a.wav", { download_timeout = 1 }) end)
    assert.is_nil(info)
    assert_error(err, "timeout")
    assert.is_true(took < 1 + SLACK, "took " .. took .. " s")
    took, info, err = timed(20, function()
      return c:generate(fixture.WAV, { output = sub .. "/b.wav", download_timeout = 1 })
    end)
    assert.is_nil(info)
    assert_error(err, "timeout")
    assert.is_true(took < 2 + SLACK, "took " .. took .. " s")
    -- No partial file; the paid job keeps its output reserved, for resume or a download.
    assert.same({ "b.wav.lock" }, ls(sub))
    -- Like every number of music.new, checked.
    info, err = c:download(st, sub .. "/c.wav", { download_timeout = 0 })
    assert.is_nil(info)
    assert_error(err, "config")
    assert.matches("download_timeout", err.message)
  end)

  it("is an option of music.new with a default a large file meets, checked like the others", function()
    assert.equal(3600, require("aimlmusic.options").defaults.download_timeout)
    local c, err = music.new { api_key = "k", download_timeout = -1 }
    assert.is_nil(c)
    assert_error(err, "config")
    assert.matches("download_timeout", err.message)
  end)

  describe("a full disk", function()
    local mnt

    before_each(function()
      mnt = nil
      if util.sh("id -u"):match("%d+") ~= "0" then return end
      mnt = util.tmpdir()
      assert(util.execute("mount -t tmpfs -o size=64k tmpfs " .. util.q(mnt)), "mount tmpfs on " .. mnt)
    end)

    after_each(function()
      if mnt then
        util.execute("umount " .. util.q(mnt))
        os.remove(mnt)
      end
    end)

    it("reports ENOSPC as such, leaving no file, blocking or in a task", function()
      if not mnt then
        pending("mounting a 64 KiB tmpfs needs root; this account is not")
        return
      end
      local st = env.completed() -- 170 KiB of WAV into 64 KiB
      local info, err = env.client:download(st, mnt .. "/a.wav")
      assert.is_nil(info)
      assert_error(err, "io")
      assert.equal("ENOSPC", err.code, tostring(err))
      assert.same({}, ls(mnt))
      local _, tinfo, terr = timed(20, function() return env.client:download(st, mnt .. "/b.wav") end)
      assert.is_nil(tinfo)
      assert_error(terr, "io")
      assert.equal("ENOSPC", terr.code, tostring(terr))
      assert.same({}, ls(mnt))
    end)
  end)
end)
