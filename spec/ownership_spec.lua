-- An output belongs to one job: it is reserved from before the submit until the job is finished,
-- across processes; a delivery is proved only by the job's own journal record (the identity and
-- size of the file it linked there), never by a size that matches; and resume uses only what
-- the library itself would have written at a journaled path, never opening anything else.

local fixture = require "support.fixture"
local child = require "support.child"
local util = require "support.util"
local journal = require "aimlmusic.journal"
local music = require "aimlmusic"
local core = require "aimlmusic.core"
local json = require("cjson").new()

local q, read_file, write_file, execute, sh = util.q, util.read_file, util.write_file, util.execute, util.sh
local PARAMS, WAV = util.PARAMS, fixture.WAV

describe("an output belongs to one job", function()
  local env = fixture.mock_client { duration = 0.2 }
  local dir, root = nil, util.repo_root()

  before_each(function()
    dir = util.mkdir(env.dir .. "/o" .. tostring(math.random(1, 1e9)))
  end)

  local function posts()
    return #util.select_reqs(env.mock:requests(), "api", "POST")
  end

  local records = util.journal_records

  -- A journal holding a submit record of each job, {id, output}: as a crash leaves it.
  local function write_journal(path, jobs)
    local lines = {}
    for _, j in ipairs(jobs) do
      lines[#lines + 1] = json.encode { op = "submit", id = j.id, model = PARAMS.model, output = j.output,
                                        time = os.time() }
    end
    write_file(path, table.concat(lines, "\n") .. "\n")
  end

  -- Runs lua code in a child process, killed after `limit` seconds; returns its output and
  -- whether it ended by itself.
  local function run_lua(code, limit)
    local file = dir .. "/child.lua"
    write_file(file, code)
    local out = sh("cd " .. q(root) .. " && timeout " .. limit .. " " .. util.LUA .. " " .. q(file)
      .. " 2>&1; echo rc=$?")
    local rc = tonumber(out:match("rc=(%d+)%s*$"))
    return out, rc ~= 124
  end

  it("lets two generate processes to one output send one POST: the second fails before sending", function()
    -- Long enough for both to be in flight however loaded the machine is.
    env.mock:config { duration = 3 }
    local out, go, jpath = dir .. "/track.wav", dir .. "/go", dir .. "/jobs.journal"
    local wait_go = "while [ ! -e " .. q(go) .. " ]; do sleep 0.01; done;"
    local a = child.start(wait_go, "generate", env.mock.api_url, env.mock.key, jpath, out)
    local b = child.start(wait_go, "generate", env.mock.api_url, env.mock.key, jpath, out)
    execute("sleep 0.3; touch " .. q(go))
    local out_a, out_b = a.finish(), b.finish()
    local results = { out_a:match("result ([^\r\n]*)") or "", out_b:match("result ([^\r\n]*)") or "" }
    table.sort(results)
    assert.same({ "io EBUSY", "ok " }, results, out_a .. "\n" .. out_b)
    assert.equal(1, posts())
    assert.equal("RIFF", (read_file(out) or ""):sub(1, 4))
    local submits = 0
    for _, rec in ipairs(records(jpath)) do
      if rec.op == "submit" then submits = submits + 1 end
    end
    assert.equal(1, submits)
    assert.same({ "go", "jobs.journal", "track.wav" }, util.ls(dir)) -- the reservation went with the job
  end)

  it("lets two tasks of one process to one output send one POST", function()
    env.mock:config { duration = 0.5 }
    local out = dir .. "/t.mp3"
    local function gen() return env.client:generate(PARAMS, { output = out }) end
    local t1, t2 = music.spawn(gen), music.spawn(gen)
    music.run()
    local st1, e1 = t1:result()
    local st2, e2 = t2:result()
    assert.is_table(st1, e1 and tostring(e1))
    assert.is_nil(st2)
    assert.equal("io", e2.kind)
    assert.equal("EBUSY", e2.code)
    assert.truthy(e2.message:find(out, 1, true), e2.message)
    assert.equal(1, posts())
    assert.same({ "t.mp3" }, util.ls(dir))
  end)

  it("names the owning job while it is unfinished; overwrite takes the output", function()
    local out = dir .. "/t.mp3"
    local owner = env.new_client()
    local job = assert(owner:submit(PARAMS, { output = out }))
    assert(owner:wait(job)) -- completed, not downloaded: still unfinished
    local other = env.new_client()
    for _, call in ipairs({ "generate", "submit" }) do
      local r, err = other[call](other, PARAMS, { output = out })
      assert.is_nil(r)
      assert.equal("io", err.kind)
      assert.equal("EBUSY", err.code)
      assert.equal(job.id, err.owner)
      assert.truthy(err.message:find(job.id, 1, true), err.message)
      assert.truthy(err.message:find(out, 1, true), err.message)
    end
    assert.equal(1, posts())
    local st = assert(other:generate(PARAMS, { output = out, overwrite = true }))
    assert.equal(out, st.path)
    assert.equal(2, posts())
    -- Its process ends: on Windows a file goes only when no process holds it open.
    owner = nil -- luacheck: ignore 311
    collectgarbage()
    assert.same({ "t.mp3" }, util.ls(dir))
  end)

  it("does not let a live reservation of a job the journal says is finished block the output", function()
    local out, jpath = dir .. "/t.mp3", dir .. "/jobs.journal"
    local holder = env.new_client { journal = jpath }
    local job = assert(holder:submit(PARAMS, { output = out }))
    assert(journal.done(jpath, job.id)) -- finished elsewhere (a resume in another process, say)
    local _, err = env.new_client():generate(PARAMS, { output = out }) -- no journal to tell it
    assert.equal("EBUSY", err and err.code)
    local st = assert(env.new_client({ journal = jpath }):generate(PARAMS, { output = out }))
    assert.equal(out, st.path)
  end)

  it("lets resume take over its own job's reservation, even from a live process", function()
    local out, jpath = dir .. "/t.mp3", dir .. "/jobs.journal"
    local holder = env.new_client { journal = jpath }
    local job = assert(holder:submit(PARAMS, { output = out })) -- its reservation is held here
    local results = env.new_client({ journal = jpath }):resume { interval = 0.05 }
    assert.equal(1, #results)
    assert.is_nil(results[1].err, results[1].err and tostring(results[1].err))
    assert.equal(job.id, results[1].id)
    assert.equal(out, results[1].path)
    -- Its process ends: on Windows a file goes only when no process holds it open.
    holder = nil -- luacheck: ignore 311
    collectgarbage()
    assert.same({ "jobs.journal", "t.mp3" }, util.ls(dir))
  end)

  it("lets a download that delivers the job remove the reservation its dead process left", function()
    env.mock:config { duration = 1.0 }
    local out, jpath = dir .. "/track.wav", dir .. "/jobs.journal"
    local a = child.start(nil, "generate", env.mock.api_url, env.mock.key, jpath, out)
    if not a.until_line("status ") then error("the child ended early:\n" .. a.finish()) end
    a.kill()
    assert.same({ "jobs.journal", "track.wav.lock" }, util.ls(dir))
    local st = assert(env.client:wait(records(jpath)[1].id))
    assert(env.client:download(st, out))
    assert.same({ "jobs.journal", "track.wav" }, util.ls(dir))
  end)

  it("lets resume after a lost race with equal sizes never mark the job delivered to another job's file", function()
    env.mock:config { duration = 1.0 }
    local out, jpath = dir .. "/track.wav", dir .. "/jobs.journal"
    -- Job A is paid, then its process dies while it waits: its reservation is left, unheld.
    local a = child.start(nil, "generate", env.mock.api_url, env.mock.key, jpath, out)
    if not a.until_line("status ") then error("the child ended early:\n" .. a.finish()) end
    a.kill()
    assert.equal("file", core.path_info(out .. ".lock").type)
    local a_id = records(jpath)[1].id
    -- Job B takes the output over (its owner is gone) and delivers a file of the same length.
    local b = assert(env.new_client({ journal = jpath }):generate(WAV, { output = out }))
    local b_bytes = read_file(out)
    local c = env.new_client { journal = jpath }
    local results = c:resume { interval = 0.05 }
    assert.equal(1, #results)
    local r = results[1]
    assert.equal(a_id, r.id)
    assert.equal(b.bytes, r.st.size) -- the sizes are equal: size proves nothing
    assert.is_nil(r.path)
    assert.equal("io", r.err.kind)
    assert.equal("EEXIST", r.err.code)
    assert.equal(b_bytes, read_file(out))
    assert.equal(1, #c:pending())
    assert.equal(a_id, c:pending()[1].id)
    assert.equal(2, posts())
  end)

  it("proves a delivery by the job's own record: a crash between the link and the record", function()
    local jpath = dir .. "/jobs.journal"
    local c = env.new_client { journal = jpath }
    local function crashed_after_link(out)
      local st = assert(c:generate(WAV, { output = out }))
      local lines = {}
      for line in read_file(jpath):gmatch("[^\n]+") do lines[#lines + 1] = line end
      local last = json.decode(table.remove(lines))
      assert.equal("delivered", last.op)
      local commit = json.decode(lines[#lines])
      assert.equal("commit", commit.op)
      assert.equal(st.id, commit.id)
      assert.equal(st.bytes, commit.bytes)
      assert.matches("%.part%-", commit.tmp)
      write_file(jpath, table.concat(lines, "\n") .. "\n")
      return st
    end
    local out = dir .. "/t.wav"
    local st = crashed_after_link(out)
    write_file(out .. ".lock", "pid 1\njob " .. st.id .. "\n") -- its process's reservation, left unheld
    local cdn = #util.select_reqs(env.mock:requests(), "cdn")
    local results = c:resume { interval = 0.05 }
    assert.is_nil(results[1].err, results[1].err and tostring(results[1].err))
    assert.equal(out, results[1].path)
    assert.equal(st.id, results[1].id)
    assert.equal(cdn, #util.select_reqs(env.mock:requests(), "cdn")) -- nothing downloaded again
    assert.same({}, c:pending())
    assert.is_nil(read_file(out .. ".lock"))
    -- The same bytes in another file (a copy) prove nothing.
    local out2 = dir .. "/u.wav"
    crashed_after_link(out2)
    assert.is_true(execute("cp " .. q(out2) .. " " .. q(out2 .. ".copy") .. " && mv " .. q(out2 .. ".copy") .. " "
      .. q(out2)))
    results = c:resume { interval = 0.05 }
    assert.equal("EEXIST", results[1].err and results[1].err.code)
    assert.equal(1, #c:pending())
  end)

  -- #posix: needs /dev/null and a symbolic link (ln -s); under wine a device path fails with EINVAL
  it("refuses journaled outputs it would not have written, per job, and delivers the others #posix", function()
    local jpath = dir .. "/jobs.journal"
    local plain = env.new_client()
    local jobs = {}
    for i = 1, 4 do jobs[i] = assert(plain:submit(WAV)) end
    local st = assert(plain:wait(jobs[3]))
    write_file(dir .. "/real.wav", util.fetch(st.url)) -- exactly the job's size
    assert.is_true(execute("ln -s real.wav " .. q(dir .. "/link.wav")))
    local climbing = "../" .. ("x"):rep(3) .. tostring(math.random(1, 1e9)) .. "/t.wav"
    write_journal(jpath, {
      { id = jobs[1].id, output = climbing },
      { id = jobs[2].id, output = "/dev/null" },
      { id = jobs[3].id, output = dir .. "/link.wav" },
      { id = jobs[4].id, output = dir .. "/good.wav" },
    })
    local before = read_file(dir .. "/real.wav")
    local c = env.new_client { journal = jpath }
    local results = c:resume { interval = 0.05 }
    assert.equal(4, #results)
    local expect = { { "EINVAL", "climbs out" }, { "EINVAL", "not a regular file" }, { "ELOOP", "symbolic link" } }
    for i, e in ipairs(expect) do
      local r = results[i]
      assert.equal(jobs[i].id, r.id)
      assert.is_nil(r.path)
      assert.equal("io", r.err and r.err.kind, tostring(r.err))
      assert.equal(e[1], r.err.code, tostring(r.err))
      assert.matches(e[2], r.err.message)
      assert.equal(jobs[i].id, r.err.id)
    end
    assert.is_nil(results[4].err, results[4].err and tostring(results[4].err))
    assert.equal(dir .. "/good.wav", results[4].path)
    assert.equal(before, read_file(dir .. "/real.wav"))
    assert.equal(3, #c:pending())
  end)

  -- #posix: needs FIFOs: Windows has none, and wine's file calls fail on one with EINVAL
  it("never waits on a FIFO at an output or at the journal: resume and generate return at once #posix", function()
    local fifo, good, jpath = dir .. "/fifo.wav", dir .. "/good.wav", dir .. "/jobs.journal"
    env.mock:fault { fifo = fifo }
    env.mock:fault { fifo = good .. ".part-00abcd" } -- named like a partial file: left alone
    local a, b = assert(env.client:submit(WAV)), assert(env.client:submit(WAV))
    write_journal(jpath, { { id = a.id, output = fifo }, { id = b.id, output = good } })
    -- A child process, so that a wait (the failure) ends with it.
    local function client_code(journal_path)
      return ("package.path = %q .. package.path\nlocal music = require 'aimlmusic'\n"
        .. "local c = assert(music.new { api_key = %q, base_url = %q, poll_interval = 0.05, journal = %q })\n"
        .. "local params = { model = %q, prompt = %q, lyrics = %q }\n"):format(root .. "/lua/?.lua;",
        env.mock.key, env.mock.api_url, journal_path, PARAMS.model, PARAMS.prompt, PARAMS.lyrics)
    end
    local out, ended = run_lua(client_code(jpath) .. [[
for _, r in ipairs(c:resume()) do
  print(r.id, r.path or "-", r.err and r.err.code or "-", r.err and r.err.message or "-")
end
local _, err = c:generate(params, { output = ]] .. ("%q"):format(fifo) .. [[ })
print("generate", err and err.code or "-")
]], 30)
    assert.is_true(ended, "resume or generate waited on the FIFO:\n" .. out)
    assert.truthy(out:find(a.id .. "\t-\tEINVAL\t", 1, true), out)
    assert.truthy(out:find("not a regular file", 1, true), out)
    assert.truthy(out:find(b.id .. "\t" .. good .. "\t-", 1, true), out)
    assert.truthy(out:find("generate\tEEXIST", 1, true), out)
    assert.is_true(execute("test -p " .. q(fifo)))
    assert.is_true(execute("test -p " .. q(good .. ".part-00abcd")))
    assert.equal(2, posts()) -- the two submits above; nothing for the FIFO
    -- A FIFO where the reservation goes: refused before anything is sent.
    env.mock:fault { fifo = dir .. "/r.mp3.lock" }
    local _, err = env.client:generate(PARAMS, { output = dir .. "/r.mp3" })
    assert.equal("EINVAL", err and err.code)
    assert.matches("not a regular file", err.message)
    assert.equal(2, posts())
    -- The journal itself a FIFO: an error, not a wait.
    local jfifo = dir .. "/fifo.journal"
    env.mock:fault { fifo = jfifo }
    out, ended = run_lua(client_code(jfifo) .. [[
local jobs, err = c:pending()
print("pending", #jobs, err and err.code or "-")
]], 30)
    assert.is_true(ended, "pending waited on a FIFO journal:\n" .. out)
    assert.truthy(out:find("pending\t0\tEINVAL", 1, true), out)
  end)

  -- #posix: needs a FIFO: Windows has none, and wine's file calls fail on one with EINVAL
  it("keeps the command line's output check from opening a FIFO #posix", function()
    local fifo = dir .. "/fifo.mp3"
    env.mock:fault { fifo = fifo }
    local cmd = ("cd %s && env AIMLAPI_BASE_URL=%s AIMLAPI_KEY=%s timeout 30 %s bin/aimlmusic generate --no-journal "
      .. "-p %s -l %s -o %s </dev/null 2>&1; echo rc=$?"):format(q(root), q(env.mock.api_url), q(env.mock.key),
      util.LUA, q(PARAMS.prompt), q(PARAMS.lyrics), q(fifo))
    local out = sh(cmd)
    assert.equal("2", out:match("rc=(%d+)%s*$"), out)
    assert.truthy(out:find("exists", 1, true), out)
    assert.equal(0, posts())
  end)
end)
