-- The job journal shared by several writers at once, and the output checked before a job is paid.

local music = require "aimlmusic"
local journal = require "aimlmusic.journal"
local mockctl = require "support.mockctl"
local util = require "support.util"
local json = require("cjson").new()

local PARAMS = util.PARAMS
local q, read_file, write_file = util.q, util.read_file, util.write_file

describe("the journal", function()
  local dir

  before_each(function()
    dir = util.tmpdir()
  end)

  after_each(function()
    util.rm_rf(dir)
  end)

  it("loses no record when several processes append at once", function()
    local jpath, procs, per = dir .. "/jobs.journal", 4, 400
    -- Each writer waits for the go file, so that all of them append at the same time.
    local script = table.concat({
      "local journal = require 'aimlmusic.journal'",
      "local go, path, who, n = arg[1], arg[2], arg[3], tonumber(arg[4])",
      "while not io.open(go) do end",
      "for i = 1, n do",
      "  assert(journal.submitted(path, { id = who .. '-' .. i .. ':' .. string.rep('x', 200), model = 'm' }, 'o'))",
      "end",
    }, "\n")
    local sfile, go = dir .. "/writer.lua", dir .. "/go"
    write_file(sfile, script)
    local cmd = {}
    for p = 1, procs do
      cmd[#cmd + 1] = ("%s %s %s %s w%d %d &"):format(util.LUA, q(sfile), q(go), q(jpath), p, per)
    end
    cmd[#cmd + 1] = "sleep 0.2; touch " .. q(go) .. "; wait"
    assert.is_true(util.execute(table.concat(cmd, " ")))
    local pending = journal.pending(jpath)
    assert.equal(procs * per, #pending)
    local seen = {}
    for _, job in ipairs(pending) do seen[job.id] = true end
    for p = 1, procs do
      for i = 1, per do
        assert.is_true(seen[("w%d-%d:%s"):format(p, i, string.rep("x", 200))], "lost w" .. p .. "-" .. i)
      end
    end
  end)

  it("closes a torn line once, even when several writers find it at once", function()
    local jpath = dir .. "/jobs.journal"
    write_file(jpath, '{"op":"submit","id":"torn-')
    local sfile = dir .. "/writer.lua"
    write_file(sfile, "local journal = require 'aimlmusic.journal'\n"
      .. "assert(journal.submitted(arg[1], { id = arg[2], model = 'm' }))\n")
    local cmd = {}
    for p = 1, 8 do cmd[#cmd + 1] = ("%s %s %s j%d &"):format(util.LUA, q(sfile), q(jpath), p) end
    cmd[#cmd + 1] = "wait"
    assert.is_true(util.execute(table.concat(cmd, " ")))
    assert.equal(8, #journal.pending(jpath))
    local lines = 0
    for _ in (read_file(jpath)):gmatch("\n") do lines = lines + 1 end
    assert.equal(9, lines) -- the torn line, closed once, and eight records
  end)
end)

describe("the output of a paid job", function()
  local mock, client, dir, jpath

  setup(function()
    mock = mockctl.start()
  end)

  before_each(function()
    mock:reset()
    mock:config { duration = 0.2 }
    dir = util.tmpdir()
    jpath = dir .. "/jobs.journal"
    client = assert(music.new { api_key = mock.key, base_url = mock.api_url, poll_interval = 0.05,
                                journal = jpath })
  end)

  after_each(function()
    util.rm_rf(dir)
  end)

  local function api_requests()
    return #util.select_reqs(mock:requests(), "api")
  end

  it("is checked before anything is sent, by generate and by submit", function()
    write_file(dir .. "/taken.mp3", "an earlier track")
    local cases = {
      { dir .. "/taken.mp3", "io", "EEXIST" },
      { dir .. "/missing/t.mp3", "io", "ENOENT" },
      { dir .. "/taken.mp3/t.mp3", "io", "ENOTDIR" },
      { dir .. "/a\0b.mp3", "io", "EINVAL" },
      { dir, "io", "EISDIR" },
      { "", "io", "EINVAL" },
      { 42, "validation" },
      { { "t.mp3" }, "validation" },
    }
    for _, c in ipairs(cases) do
      for _, call in ipairs({ "generate", "submit" }) do
        local r, err = client[call](client, PARAMS, { output = c[1] })
        local what = call .. " " .. ("%q"):format(tostring(c[1]))
        assert.is_nil(r, what)
        assert.equal(c[2], err.kind, what .. ": " .. tostring(err))
        if c[3] then assert.equal(c[3], err.code, what .. ": " .. tostring(err)) end
      end
    end
    assert.equal(0, api_requests())
    assert.equal("an earlier track", read_file(dir .. "/taken.mp3"))
    assert.same({}, client:pending())
  end)

  -- #posix: needs chmod and chattr
  it("refuses a directory it cannot write in, before anything is sent #posix", function()
    local ro = util.mkdir(dir .. "/ro")
    -- A mode stops a user; root is stopped only by an immutable directory (chattr +i).
    util.execute("chmod 555 " .. q(ro) .. "; chattr +i " .. q(ro) .. " 2>/dev/null")
    local writable = util.execute("touch " .. q(ro .. "/probe") .. " 2>/dev/null")
    local _, err = client:generate(PARAMS, { output = ro .. "/t.mp3" })
    util.execute("chattr -i " .. q(ro) .. " 2>/dev/null; chmod 755 " .. q(ro))
    assert.is_false(writable, "could not make a directory this process cannot write in")
    assert.equal("io", err.kind)
    assert.is_truthy(err.code == "EACCES" or err.code == "EPERM", tostring(err))
    assert.equal(0, api_requests())
  end)

  it("may replace an existing file when overwrite is given", function()
    write_file(dir .. "/taken.mp3", "an earlier track")
    local st = assert(client:generate(PARAMS, { output = dir .. "/taken.mp3", overwrite = true }))
    assert.equal(dir .. "/taken.mp3", st.path)
    assert.not_equal("an earlier track", read_file(dir .. "/taken.mp3"))
  end)

  it("records the delivery after the file is in place, and resume needs no download then", function()
    local st = assert(client:generate(PARAMS, { output = dir .. "/t.mp3" }))
    local last
    for line in read_file(jpath):gmatch("[^\n]+") do last = json.decode(line) end
    assert.equal("delivered", last.op)
    assert.equal(st.id, last.id)
    assert.equal(dir .. "/t.mp3", last.path)
    assert.equal(st.bytes, last.bytes)
    assert.same({}, client:pending())
  end)

  local function journal_job(out)
    local job = assert(client:submit(PARAMS))
    write_file(jpath, json.encode { op = "submit", id = job.id, model = PARAMS.model, output = out,
                                    time = os.time() } .. "\n")
    return job
  end

  it("resume keeps a job pending, saying why, when an unrelated file holds its output", function()
    local out = dir .. "/kept.mp3"
    journal_job(out)
    write_file(out, "an unrelated file")
    local results = client:resume { interval = 0.05 }
    assert.equal(1, #results)
    local r = results[1]
    assert.is_nil(r.path)
    assert.equal("io", r.err.kind)
    assert.equal("EEXIST", r.err.code)
    assert.matches("overwrite", r.err.message)
    assert.equal("an unrelated file", read_file(out))
    assert.equal(1, #client:pending())
    -- Told to overwrite, it delivers.
    results = client:resume { interval = 0.05, overwrite = true }
    assert.equal(out, results[1].path)
    assert.same({}, client:pending())
  end)

  it("resume does not count a file of the job's own size and bytes as delivered without the job's record", function()
    local out = dir .. "/t.mp3"
    local job = journal_job(out)
    local plain = assert(music.new { api_key = mock.key, base_url = mock.api_url, poll_interval = 0.05 })
    local st = assert(plain:wait(job))
    assert.is_true(st.size > 0)
    write_file(out, util.fetch(st.url)) -- the job's very bytes, put there by something else
    local results = client:resume { interval = 0.05 }
    assert.is_nil(results[1].path)
    assert.equal("EEXIST", results[1].err and results[1].err.code)
    assert.equal(1, #client:pending())
    -- Told to overwrite, it delivers its own.
    results = client:resume { interval = 0.05, overwrite = true }
    assert.equal(out, results[1].path)
    assert.same({}, client:pending())
  end)
end)
