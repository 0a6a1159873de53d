-- Deadlines: wait ends at its timeout with the job id to wait again, however slow the server;
-- one request ends at the client's timeout, a connection at its connect_timeout.

local music = require "aimlmusic"
local fixture = require "support.fixture"
local util = require "support.util"
local times_out = require("support.errors").times_out
local socket = require "socket"

local PARAMS = util.PARAMS
local select_reqs = util.select_reqs

local env = fixture.mock_client { duration = 0.2, dir = false }

describe("deadlines", function()
  it("wait ends at its deadline with the job id, and waiting again gets the job", function()
    env.mock:config { duration = 1 }
    local job = assert(env.client:submit(PARAMS))
    local err, took = times_out(function() return env.client:wait(job, { timeout = 0.3 }) end)
    assert.equal(job.id, err.id)
    assert.matches(job.id, tostring(err), 1, true)
    assert.is_true(took >= 0.25 and took < 1.2, "took " .. took .. " s")
    local st = assert(env.client:wait(err.id))
    assert.equal("completed", st.status)
    assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
  end)

  it("wait ends at its deadline even while a poll hangs", function()
    env.mock:config { duration = 30 }
    local job = assert(env.client:submit(PARAMS))
    env.mock:fault { method = "GET", delay_ms = 3000 }
    local err, took = times_out(function() return env.client:wait(job, { timeout = 0.5 }) end)
    assert.equal(job.id, err.id)
    assert.is_true(took < 1.5, "wait{timeout = 0.5} returned after " .. took .. " s")
  end)

  it("a request ends at the client's timeout", function()
    local c = env.new_client { timeout = 0.3 }
    env.mock:fault { method = "GET", delay_ms = 3000 }
    local err, took = times_out(function() return c:status("x:minimax/music-2.0") end)
    assert.equal("OPERATION_TIMEDOUT", err.code)
    assert.is_true(err.retryable)
    assert.is_true(took >= 0.25 and took < 1.5, "took " .. took .. " s")
  end)

  it("a connection ends at the client's connect_timeout", function()
    -- A listener that never accepts, with its backlog full: new connections hang.
    local srv = assert(socket.bind("127.0.0.1", 0, 0))
    local _, port = srv:getsockname()
    local fill = {}
    for i = 1, 4 do
      fill[i] = socket.tcp()
      fill[i]:settimeout(0)
      fill[i]:connect("127.0.0.1", port)
    end
    local c = assert(music.new {
      api_key = "k", base_url = "http://127.0.0.1:" .. port, connect_timeout = 0.3, timeout = 20, max_retries = 0,
    })
    local ok, err, took = pcall(times_out, function() return c:status("x:minimax/music-2.0") end)
    for i = 1, 4 do fill[i]:close() end
    srv:close()
    assert(ok, err)
    assert.is_true(took >= 0.25 and took < 2, "took " .. took .. " s")
  end)
end)
