-- A NUL byte in any path the library takes is refused with a clear error, and never cuts the
-- path short (which would name another file). Against the mock over loopback.

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local fixture = require "support.fixture"
local util = require "support.util"
local assert_error = require("support.errors").assert_error

local ls = util.ls

describe("a path with a NUL byte", function()
  local env = fixture.mock_client { duration = 0.1 }

  local function subdir(name)
    return util.mkdir(env.dir .. "/" .. name)
  end

  it("is refused by download before any request, and nothing lands at the cut path", function()
    local st = env.completed()
    local sub = subdir("download")
    local before = #env.mock:requests()
    local info, err = env.client:download(st, sub .. "/a\0b.wav")
    assert.is_nil(info)
    assert_error(err, "io")
    assert.equal("EINVAL", err.code)
    assert.matches("NUL", err.message)
    assert.same({}, ls(sub))
    assert.same({}, env.since(before))
  end)

  it("(an empty path too, said without a stray blank) is refused before anything is paid", function()
    local r, err = env.client:generate(fixture.WAV, { output = "" })
    assert.is_nil(r)
    assert_error(err, "io")
    assert.equal("output: the path is empty", err.message)
    assert.same({}, env.mock:requests())
  end)

  it("is refused as generate's and submit's output before anything is paid", function()
    local sub = subdir("output")
    for _, call in ipairs { "generate", "submit" } do
      local r, err = env.client[call](env.client, fixture.WAV, { output = sub .. "/a\0b.wav" })
      assert.is_nil(r)
      assert_error(err, "io")
      assert.matches("NUL", err.message)
    end
    assert.same({}, ls(sub))
    assert.same({}, env.mock:requests())
  end)

  it("is refused in music.new's journal, ca_file and proxy", function()
    local sub = subdir("new")
    for _, o in ipairs { { journal = sub .. "/j\0x" }, { ca_file = sub .. "/ca\0.pem" },
                         { proxy = "http://127.0.0.1:9\0x" } } do
      o.api_key, o.base_url = env.mock.key, env.mock.api_url
      local c, err = music.new(o)
      assert.is_nil(c)
      assert_error(err, "config")
      assert.matches("NUL", err.message)
    end
    assert.same({}, ls(sub))
  end)

  it("is refused by the journal's append, the cleanup of partial files and mkdir", function()
    local sub = subdir("journal")
    local ok, err = core.journal_append(sub .. "/j\0x", "{}")
    assert.is_nil(ok)
    assert_error(err, "io")
    assert.equal("EINVAL", err.code)
    assert.same({}, ls(sub))
    -- The cut path's partial file is another download's: it stays.
    util.write_file(sub .. "/a.part-0a1b2c", "not this one")
    assert.equal(0, core.remove_partials(sub .. "/a\0b.wav"))
    assert.same({ "a.part-0a1b2c" }, ls(sub))
    -- And by the command line's mkdir.
    local made, msg = core.mkdir(sub .. "/d\0x")
    assert.is_nil(made)
    assert.matches("NUL", msg)
    assert.same({ "a.part-0a1b2c" }, ls(sub))
  end)

  it("is refused as a local reference audio file", function()
    local ok, err = music.validate { model = "minimax/music-cover", prompt = "The same song as bossa nova",
                                     reference_audio_url = env.dir .. "/demo\0.wav" }
    assert.is_nil(ok)
    assert_error(err, "validation")
  end)
end)
