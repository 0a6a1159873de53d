-- spec/support/fixture.lua: the mock server and a client on it, set up one way for every spec
-- that talks to the API. Called inside a describe block, it registers busted's hooks there.
--
--   local fixture = require "support.fixture"
--   describe("...", function()
--     local env = fixture.mock_client { duration = 0.3 }
--     it("...", function() env.client:submit(...) ; env.mock:fault{...} ; env.dir end)
--   end)
--
-- opts: duration (the mock's job duration in seconds, set before each test), client (more
-- options of music.new for env.client; false: no client), dir (false: none; "private": mode
-- 700). The mock is reset before each test; the directory is removed when the block ends.

local busted = require "busted"
local mockctl = require "support.mockctl"
local util = require "support.util"

local M = {}

--- A valid request for a WAV track: 170 KiB at the mock's defaults, long enough to cut.
M.WAV = util.with(util.PARAMS, { audio_setting = { format = "wav" } })

function M.mock_client(opts)
  opts = opts or {}
  local env = {}

  -- A client of music (default: the library) on the mock, with opts' options and then extra's.
  function env.new_client(extra, music)
    music = music or require "aimlmusic"
    local o = { api_key = env.mock.key, base_url = env.mock.api_url, poll_interval = 0.05 }
    for k, v in pairs(opts.client or {}) do o[k] = v end
    for k, v in pairs(extra or {}) do o[k] = v end
    return assert(music.new(o))
  end

  -- The status of a completed job of env.client (a WAV track unless params say otherwise).
  function env.completed(params)
    return assert(env.client:wait(assert(env.client:submit(params or M.WAV))))
  end

  -- The requests the mock received after the first `before` of them.
  function env.since(before)
    local all, out = env.mock:requests(), {}
    for i = before + 1, #all do out[#out + 1] = all[i] end
    return out
  end

  busted.setup(function()
    env.mock = mockctl.start()
    if opts.dir ~= false then env.dir = util.tmpdir(opts.dir == "private") end
  end)

  busted.teardown(function()
    util.rm_rf(env.dir)
  end)

  busted.before_each(function()
    env.mock:reset()
    env.mock:config { duration = opts.duration }
    if opts.client ~= false then env.client = env.new_client() end
  end)

  return env
end

return M
