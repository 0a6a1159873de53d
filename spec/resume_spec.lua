-- The journal and resume after a crash: a paid job is on disk before submit returns, stays
-- pending until its audio is in place, and client:resume finishes it in another process
-- without paying again, even after SIGKILL mid-wait or mid-download or a torn write.
-- The crashing processes run spec/support/rel_child.lua.

local fixture = require "support.fixture"
local child = require "support.child"
local util = require "support.util"
local assert_error = require("support.errors").assert_error
local json = require("cjson").new()

local PARAMS = util.PARAMS
local read_file, write_file, mkdir, fetch = util.read_file, util.write_file, util.mkdir, util.fetch
local select_reqs = util.select_reqs

local env = fixture.mock_client { duration = 0.2 }

local journal_records = util.journal_records

describe("the journal and resume after a crash", function()
  local jdir
  before_each(function()
    jdir = env.dir .. "/j" .. tostring(math.random(1, 1e9))
    mkdir(jdir)
  end)

  it("holds each submitted job (id, model, output, time) when submit returns", function()
    local jpath = jdir .. "/jobs.journal"
    local c = env.new_client { journal = jpath }
    local before = os.time()
    local job = assert(c:submit(PARAMS, { output = jdir .. "/track.mp3" }))
    local recs = journal_records(jpath)
    assert.equal(1, #recs)
    assert.equal("submit", recs[1].op)
    assert.equal(job.id, recs[1].id)
    assert.equal(PARAMS.model, recs[1].model)
    assert.equal(jdir .. "/track.mp3", recs[1].output)
    assert.is_true(recs[1].time >= before - 1 and recs[1].time <= os.time() + 1)
    local pending = c:pending()
    assert.equal(1, #pending)
    assert.equal(job.id, pending[1].id)
    assert.equal(jdir .. "/track.mp3", pending[1].output)
    assert.equal(PARAMS.model, pending[1].model)
    -- A second client on the same journal (another process) sees it too.
    assert.equal(job.id, env.new_client({ journal = jpath }):pending()[1].id)
  end)

  it("marks a job finished once generate has delivered it, and never holds the key", function()
    local jpath = jdir .. "/jobs.journal"
    local c = env.new_client { journal = jpath }
    local st = assert(c:generate(PARAMS, { output = jdir .. "/track.mp3" }))
    assert.equal(jdir .. "/track.mp3", st.path)
    assert.same({}, c:pending())
    local recs = journal_records(jpath)
    assert.equal("delivered", recs[#recs].op)
    assert.equal(st.id, recs[#recs].id)
    assert.not_matches(env.mock.key, read_file(jpath), 1, true)
  end)

  it("marks a job without output finished once wait sees it completed", function()
    local c = env.new_client { journal = jdir .. "/jobs.journal" }
    local job = assert(c:submit(PARAMS))
    assert.equal(1, #c:pending())
    assert(c:wait(job))
    assert.same({}, c:pending())
  end)

  it("keeps a job pending when generate's wait reaches its deadline, for resume to finish", function()
    env.mock:config { duration = 0.8 }
    local jpath, out = jdir .. "/jobs.journal", jdir .. "/late.mp3"
    local c = env.new_client { journal = jpath }
    local st, err = c:generate(PARAMS, { output = out, timeout = 0.2 })
    assert.is_nil(st)
    assert_error(err, "timeout")
    local pending = c:pending()
    assert.equal(1, #pending)
    assert.equal(err.id, pending[1].id)
    local results = env.new_client({ journal = jpath }):resume { interval = 0.05 }
    assert.equal(1, #results)
    assert.is_nil(results[1].err, results[1].err and tostring(results[1].err))
    assert.equal(out, results[1].path)
    assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
    assert.same({}, c:pending())
  end)

  it("keeps a job pending while its download has not succeeded", function()
    local c = env.new_client { journal = jdir .. "/jobs.journal", max_retries = 0 }
    env.mock:fault { host = "cdn", status = 503 }
    local st, err = c:generate(PARAMS, { output = jdir .. "/track.mp3" })
    assert.is_nil(st)
    assert_error(err, "server")
    local pending = c:pending()
    assert.equal(1, #pending)
    assert.equal(err.id, pending[1].id)
  end)

  -- #posix: needs SIGKILL
  it("lets a process killed with SIGKILL while waiting be resumed: one POST, the whole track #posix", function()
    env.mock:config { duration = 1.5 }
    local jpath, out = jdir .. "/jobs.journal", jdir .. "/track.wav"
    local proc = child.start(nil, "generate", env.mock.api_url, env.mock.key, jpath, out)
    local line = proc.until_line("status ")
    if not line then error("the child ended early:\n" .. proc.finish()) end
    -- submit has returned: the job must be on disk already.
    local recs = journal_records(jpath)
    proc.kill()
    assert.equal(1, #recs)
    assert.equal("submit", recs[1].op)
    assert.equal(out, recs[1].output)
    assert.is_nil(read_file(out))

    local c = env.new_client { journal = jpath }
    local pending = c:pending()
    assert.equal(1, #pending)
    assert.equal(recs[1].id, pending[1].id)
    local results = c:resume { interval = 0.05 }
    assert.equal(1, #results)
    local r = results[1]
    assert.is_nil(r.err, r.err and tostring(r.err))
    assert.equal(recs[1].id, r.id)
    assert.equal(out, r.path)
    assert.equal(fetch(r.st.url), read_file(out))
    assert.equal("RIFF", read_file(out):sub(1, 4))
    assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
    assert.same({}, c:pending())
    assert.same({}, env.new_client({ journal = jpath }):resume())
  end)

  -- #posix: needs SIGKILL
  it("lets a process killed with SIGKILL mid-download be resumed, with no torn file at the target #posix", function()
    env.mock:config { duration = 0.1 }
    env.mock:fault { host = "cdn", action = "slow", delay_ms = 3000 }
    local jpath, out = jdir .. "/jobs.journal", jdir .. "/track.wav"
    local proc = child.start(nil, "generate", env.mock.api_url, env.mock.key, jpath, out)
    local line = proc.until_line("progress ")
    if not line then error("the child ended early:\n" .. proc.finish()) end
    proc.kill()
    assert.is_nil(read_file(out))
    local function partials()
      local n = 0
      for name in require("lfs").dir(jdir) do
        if name:match("%.part%-") then n = n + 1 end
      end
      return n
    end
    assert.equal(1, partials()) -- what the killed download left beside the target
    local c = env.new_client { journal = jpath }
    local results = c:resume { interval = 0.05 }
    assert.equal(1, #results)
    assert.is_nil(results[1].err, results[1].err and tostring(results[1].err))
    assert.equal(fetch(results[1].st.url), read_file(out))
    assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
    assert.same({}, c:pending())
    assert.equal(0, partials())
  end)

  it("survives a torn write: the torn line is skipped and does not swallow the next record", function()
    local jpath = jdir .. "/jobs.journal"
    local a = assert(env.client:submit(PARAMS))
    local good = json.encode { op = "submit", id = a.id, model = PARAMS.model, output = jdir .. "/a.mp3",
                               time = os.time() }
    -- A crash in the middle of an append: half a record, no newline.
    write_file(jpath, good .. "\n" .. '{"op":"submit","id":"torn-')
    local c = env.new_client { journal = jpath }
    local pending = c:pending()
    assert.equal(1, #pending)
    assert.equal(a.id, pending[1].id)
    local b = assert(c:submit(PARAMS, { output = jdir .. "/b.mp3" }))
    pending = env.new_client({ journal = jpath }):pending()
    assert.equal(2, #pending)
    assert.equal(a.id, pending[1].id)
    assert.equal(b.id, pending[2].id)
    assert.equal(jdir .. "/b.mp3", pending[2].output)
    local results = c:resume { interval = 0.05 }
    assert.equal(2, #results)
    for _, r in ipairs(results) do assert.is_nil(r.err, r.err and tostring(r.err)) end
    assert.is_string(read_file(jdir .. "/a.mp3"))
    assert.is_string(read_file(jdir .. "/b.mp3"))
    assert.same({}, c:pending())
    assert.equal(2, #select_reqs(env.mock:requests(), "api", "POST"))
  end)

  it("resume marks a failed job and an unknown job finished, with their errors", function()
    local jpath = jdir .. "/jobs.journal"
    env.mock:fault { job_error = { name = "GenerationFailed", message = "moderation" } }
    local failed = assert(env.client:submit(PARAMS))
    write_file(jpath, json.encode { op = "submit", id = failed.id, model = PARAMS.model, time = os.time() } .. "\n"
      .. json.encode { op = "submit", id = "gone:minimax/music-2.0", model = PARAMS.model, time = os.time() } .. "\n")
    local c = env.new_client { journal = jpath }
    local results = c:resume { interval = 0.05 }
    assert.equal(2, #results)
    assert_error(results[1].err, "job_failed")
    assert.equal("GenerationFailed", results[1].err.code)
    assert_error(results[2].err, "not_found")
    assert.same({}, c:pending())
  end)

  it("resume{id = ...} finishes that job alone and leaves the others pending", function()
    local jpath = jdir .. "/jobs.journal"
    local c = env.new_client { journal = jpath }
    local first, second = assert(c:submit(PARAMS)), assert(c:submit(PARAMS))
    local results = c:resume { id = second.id, interval = 0.05 }
    assert.equal(1, #results)
    assert.equal(second.id, results[1].id)
    assert.is_nil(results[1].err)
    local left = c:pending()
    assert.equal(1, #left)
    assert.equal(first.id, left[1].id)
    local _, err = c:resume { id = 42 }
    assert_error(err, "config")
  end)

  it("resume keeps a file it cannot tell is the job's as it is, and the job pending", function()
    local jpath, out = jdir .. "/jobs.journal", jdir .. "/kept.mp3"
    local job = assert(env.client:submit(PARAMS))
    write_file(jpath, json.encode { op = "submit", id = job.id, model = PARAMS.model, output = out,
                                    time = os.time() } .. "\n")
    write_file(out, "delivered")
    local c = env.new_client { journal = jpath }
    local results = c:resume { interval = 0.05 }
    assert.equal(1, #results)
    assert_error(results[1].err, "io")
    assert.equal("EEXIST", results[1].err.code)
    assert.is_nil(results[1].path)
    assert.equal("delivered", read_file(out))
    assert.equal(1, #c:pending())
  end)

  it("a journal that cannot be written does not lose the paid job", function()
    write_file(jdir .. "/file", "x")
    local c = env.new_client { journal = jdir .. "/file/jobs.journal" }
    local job, err = c:submit(PARAMS)
    assert.is_table(job, err and tostring(err))
    assert.matches(":minimax/music%-2%.0$", job.id)
    assert_error(job.journal_error, "io")
    assert.equal(1, #select_reqs(env.mock:requests(), "api", "POST"))
  end)
end)
