-- The status poll schedule of wait() when no interval is given (aimlmusic/schedule.lua).

local music = require "aimlmusic"
local schedule = require "aimlmusic.schedule"
local fixture = require "support.fixture"
local util = require "support.util"

local PARAMS = util.PARAMS
local M2 = "minimax/music-2.0"

describe("the poll schedule", function()
  it("waits until the documented earliest completion, then polls every 6 s", function()
    local s = schedule.new()
    assert.equal(45, s:delay(M2, 0))
    assert.equal(15, s:delay(M2, 30))
    assert.near(6, s:delay(M2, 50), 1e-9)
    assert.near(6, s:delay(M2, nil), 1e-9) -- a job this client did not submit: densely
    assert.near(12, s:delay(M2, 130), 1e-9) -- long past the typical duration: sparser
  end)

  it("starts from the client's expected_seconds when given", function()
    local s = schedule.new { 4.5, 6 }
    assert.equal(4.5, s:delay(M2, 0))
    assert.near(0.6, s:delay(M2, 5), 1e-9)
    local c, err = music.new { api_key = "k", expected_seconds = 5 }
    assert.is_nil(c)
    assert.equal("config", err.kind)
    assert.matches("expected_seconds", err.message)
  end)

  it("learns from finished jobs, per model: fast jobs move the first poll earlier", function()
    local s = schedule.new()
    s:learn(M2, 18, 22)
    assert.near(18, s:delay(M2, 0), 1e-9) -- 0.9 x 20
    assert.equal(45, s:delay("minimax/music-1.5", 0))
    -- A few slow jobs do not move it later; many do.
    local slow = schedule.new()
    for _ = 1, 4 do slow:learn(M2, 98, 102) end
    assert.equal(45, slow:delay(M2, 0))
    slow:learn(M2, 98, 102)
    assert.near(90, slow:delay(M2, 0), 1e-9)
  end)

  it("against a server on this machine polls from the start and takes the first finished job at once", function()
    for _, url in ipairs({ "http://127.0.0.1:8080", "http://localhost:1/x", "https://127.0.0.2", "http://[::1]:80",
      "http://u@127.9.9.9:5/" }) do
      assert.is_true(schedule.loopback(url), url)
      local s = schedule.new(nil, url)
      assert.equal(0.5, s:delay(M2, 0), url)
    end
    for _, url in ipairs({ "https://api.aimlapi.com", "http://127.0.0.1.example.com", "http://10.0.0.1:8080" }) do
      assert.is_false(schedule.loopback(url), url)
      assert.equal(45, schedule.new(nil, url):delay(M2, 0), url)
    end
    local s = schedule.new(nil, "http://127.0.0.1:9")
    s:learn(M2, 2.5, 3.5) -- one job of about 3 s: the next first poll comes at 0.9 x 3 s
    assert.near(2.7, s:delay(M2, 0), 1e-9)
    assert.near(0.5, s:delay(M2, 3), 1e-9)
    -- and so with expected_seconds: one slow job moves the first poll later
    local e = schedule.new({ 4.5, 6 }, "https://api.aimlapi.com")
    e:learn(M2, 98, 102)
    assert.near(90, e:delay(M2, 0), 1e-9)
  end)

  it("takes a job that completed at its first poll as an upper bound", function()
    local s = schedule.new()
    s:learn(M2, nil, 30)
    assert.near(27, s:delay(M2, 0), 1e-9)
  end)
end)

describe("client:wait without an interval", function()
  local env = fixture.mock_client { duration = 1, client = false, dir = false }

  local function status_times(id)
    local out = {}
    for _, r in ipairs(util.select_reqs(env.mock:requests(), "api", "GET")) do
      local q = type(r.query) == "table" and (r.query.generation_id or "") or tostring(r.query or "")
      if q:find(id, 1, true) or q:find((id:gsub("[:/]", function(c) return ("%%%02X"):format(c:byte()) end)), 1, true) then
        out[#out + 1] = r.time
      end
    end
    return out
  end

  it("follows the learned schedule: no poll before the earliest completion, few after", function()
    local client = assert(music.new { api_key = env.mock.key, base_url = env.mock.api_url })
    for _ = 1, 5 do client.schedule:learn(M2, 0.9, 1.1) end -- jobs of about 1 s
    local t0 = require("aimlmusic.core").now()
    local st = assert(client:generate(PARAMS))
    local took = require("aimlmusic.core").now() - t0
    assert.equal("completed", st.status)
    local polls = status_times(st.id)
    assert.is_true(#polls >= 1 and #polls <= 3, #polls .. " status requests")
    local scale = tonumber(os.getenv("AIMLMUSIC_TIME_SCALE")) or 1 -- valgrind: the Makefile says
    assert.is_true(took >= 0.9 and took < 2.5 * scale, "took " .. took .. " s")
  end)

  it("a fresh client of the mock has a 3 s job's file within 6 s of submitting", function()
    env.mock:config { duration = 3 }
    local dir = util.tmpdir(true)
    local client = assert(music.new { api_key = env.mock.key, base_url = env.mock.api_url })
    local now = require("aimlmusic.core").now
    local t0 = now()
    local st = assert(client:generate(PARAMS, { output = dir .. "/a.mp3" }))
    local took = now() - t0
    util.rm_rf(dir)
    env.mock:config { duration = 1 }
    assert.equal(dir .. "/a.mp3", st.path)
    print(("\n  a fresh client, 3 s job: the file after %.2f s, %d status requests"):format(took, #status_times(st.id)))
    -- the job takes 3 s; polls 0.5 s apart from the start add at most 0.5 s, the download little
    local scale = tonumber(os.getenv("AIMLMUSIC_TIME_SCALE")) or 1 -- valgrind: the Makefile says
    assert.is_true(took >= 3 and took < 3 + 3 * scale, "took " .. took .. " s")
  end)

  it("keeps an explicit interval: a poll at once, then one per interval", function()
    local client = assert(music.new { api_key = env.mock.key, base_url = env.mock.api_url, poll_interval = 0.1 })
    local st = assert(client:generate(PARAMS))
    assert.is_true(#status_times(st.id) >= 8)
    local c2 = assert(music.new { api_key = env.mock.key, base_url = env.mock.api_url })
    local job = assert(c2:submit(PARAMS))
    assert(c2:wait(job, { interval = 0.1 }))
    assert.is_true(#status_times(job.id) >= 8)
  end)
end)
