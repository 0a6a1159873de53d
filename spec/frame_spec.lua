-- A frame's music.step(0): the work of one step keeps to its budget however much is in
-- flight. A download past the budget pauses (its bytes wait in libcurl) and goes on at the
-- next step; queued requests start one at a time while the budget lasts; a commit is handed
-- to a worker thread that stays, not to a thread made for it; a reused connection goes back
-- into the pollable set with one system call.

local music = require "aimlmusic"
local socket = require "socket"
local fixture = require "support.fixture"
local util = require "support.util"

local q, read_file, fetch, select_reqs = util.q, util.read_file, util.fetch, util.select_reqs

local env = fixture.mock_client { duration = 0.1 }

local BUFFER = 96 * 1024 -- the download buffer libcurl reads into (session.c)
local TINY = 1e-9 -- ms: every step is over budget before it starts, as on a very slow machine

-- Steps until done() is true, at most n times; returns the number of steps.
local function step_until(done, n)
  local steps = 0
  while not done() do
    steps = steps + 1
    assert(steps <= n, "not done after " .. n .. " steps")
    music.step(0, TINY)
  end
  return steps
end

describe("a frame's step(0)", function()
  -- Runs body (Lua source with music, c: a client on the mock, and the given globals) in a
  -- process of its own, under strace when trace names system calls; returns its output and
  -- the trace.
  local function run_child(name, body, trace_calls)
    local script, trace = env.dir .. "/" .. name .. ".lua", env.dir .. "/" .. name .. ".trace"
    util.write_file(script, ([[
      package.path = %q; package.cpath = %q
      local music = require "aimlmusic"
      local c = assert(music.new { api_key = %q, base_url = %q, poll_interval = 0.05 })
    ]]):format(package.path, package.cpath, env.mock.key, env.mock.api_url) .. body)
    local cmd = util.LUA .. " " .. q(script)
    if trace_calls then
      -- LeakSanitizer (make asan) cannot run under ptrace: the child is traced without it.
      cmd = ("ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" strace -f -qq -e trace=%s -o %s %s"):format(
        trace_calls, q(trace), cmd)
    end
    local out = util.sh(cmd .. " 2>&1 && echo OK")
    assert.matches("OK\n$", out)
    return out, trace_calls and read_file(trace)
  end

  it("pauses a download past the budget: a step takes one buffer at most, and the file is whole", function()
    env.mock:config { audio_seconds = 20 }
    local st = env.completed()
    local full = fetch(st.url)
    assert.is_true(#full > 8 * BUFFER, "the track is too short to cut into steps: " .. #full)
    local path = env.dir .. "/paced.wav"
    local info, err
    music.spawn(function() info, err = env.client:download(st, path) end)
    local steps = step_until(function() return info or err end, 100000)
    assert(info, err and err.message)
    assert.equal(#full, info.bytes)
    assert.equal(full, read_file(path))
    assert.is_true(steps >= math.floor(#full / BUFFER), steps .. " steps")
  end)

  -- #posix: needs strace
  it("reads no more than one buffer of a download from its socket in a step over budget #posix", function()
    env.mock:config { audio_seconds = 20 }
    local st = env.completed()
    -- Each step(0) asks the pollable set once (epoll_wait); what the main thread reads from the
    -- CDN's socket between two asks is one step's intake.
    local _, log = run_child("intake", ([[
      local info, err
      music.spawn(function() info, err = c:download({ url = %q }, %q) end)
      while not (info or err) do music.step(0, %s) end
      assert(info, err and err.message)
    ]]):format(st.url, env.dir .. "/intake.wav", tostring(TINY)), "epoll_wait,recvfrom")
    local main = log:match("^(%d+)")
    local step, largest, total = 0, 0, 0
    for line in log:gmatch("[^\n]+") do
      local tid, call, n = line:match("^(%d+) +([%w_]+)%(.*= (%d+)$")
      if tid == main and call == "epoll_wait" then
        step = 0
      elseif tid == main and call == "recvfrom" then
        step = step + tonumber(n)
        total = total + tonumber(n)
        largest = math.max(largest, step)
      end
    end
    assert.is_true(total > 8 * BUFFER, "the download was not read on the main thread: " .. total)
    -- Without the pause a step reads until its download's spool is full: 256 KiB.
    assert.is_true(largest <= BUFFER, largest .. " bytes read in one step")
  end)

  -- #posix: needs the pollable set (epoll or kqueue) that paces requests
  it("starts queued requests one per step when each step is over budget #posix", function()
    local ids = {}
    for i = 1, 4 do ids[i] = assert(env.client:submit(fixture.WAV)).id end
    local before = #env.mock:requests()
    local polled = 0
    for i = 1, 4 do
      music.spawn(function()
        assert(env.client:status(ids[i]))
        polled = polled + 1
      end)
    end
    local function status_requests()
      return #select_reqs(env.since(before), "api", "GET")
    end
    -- Each request that went out reaches the mock: wait for it, then make sure no other comes.
    local function settle(want)
      local t0 = socket.gettime()
      while status_requests() < want and socket.gettime() - t0 < 5 do socket.sleep(0.01) end
      socket.sleep(0.1)
      return status_requests()
    end
    music.step(0, 1000) -- the four tasks run: their requests wait in the queue
    assert.equal(0, settle(0))
    for n = 1, 4 do
      music.step(0, TINY)
      assert.equal(n, settle(n))
    end
    step_until(function() return polled == 4 end, 100000)
  end)

  it("lets tasks wait a step when libcurl left no room for one, never two steps in a row", function()
    env.mock:fault { method = "GET", delay_ms = 5000 }
    local poll = music.spawn(function() return env.client:status("x:minimax/music-2.0") end)
    music.step(0) -- a transfer in flight: libcurl has work in every step below
    local ran, seen = 0, {}
    for _ = 1, 4 do music.spawn(function() ran = ran + 1 end) end
    for i = 1, 8 do
      music.step(0, TINY)
      seen[i] = ran
    end
    assert.same({ 0, 1, 1, 2, 2, 3, 3, 4 }, seen)
    -- With nothing in flight, a step over its budget still runs a task.
    poll:cancel()
    music.spawn(function() ran = ran + 1 end)
    music.step(0, TINY)
    assert.equal(5, ran)
  end)

  -- #posix: needs /proc
  it("commits downloads on worker threads it keeps, four at most #posix", function()
    local st = env.completed()
    local out = run_child("workers", ([[
      local function threads()
        local f = assert(io.open("/proc/self/stat"))
        local pid = f:read("*l"):match("^(%%d+)")
        f:close()
        local p = io.popen("ls /proc/" .. pid .. "/task")
        local set = {}
        for tid in p:read("*a"):gmatch("%%d+") do set[tid] = true end
        p:close()
        return set
      end
      local function count(set) local n = 0 for _ in pairs(set) do n = n + 1 end return n end
      local st = { url = %q }
      local first = threads()
      assert(c:download(st, %q))
      local after = threads()
      local kept
      for tid in pairs(after) do if not first[tid] then kept = tid end end
      for i = 2, 9 do
        music.spawn(function() assert(c:download(st, %q .. i .. ".wav")) end)
      end
      music.run()
      local last = threads()
      print("kept", kept and "yes" or "no", "still", kept and last[kept] and "yes" or "no",
        "new", count(last) - count(first))
    ]]):format(st.url, env.dir .. "/w1.wav", env.dir .. "/w"))
    -- One thread per commit would leave none: each would end with its commit.
    local kept, still, new = out:match("kept%s+(%a+)%s+still%s+(%a+)%s+new%s+(%d+)")
    assert.equal("yes", kept, out)
    assert.equal("yes", still, out)
    assert.is_true(tonumber(new) <= 4, out)
  end)

  -- #posix: needs strace
  it("makes and writes a download's file on a worker thread, never on the thread that steps #posix", function()
    local st = env.completed()
    local path = env.dir .. "/spooled.wav"
    -- A game's loop: step(0) until the task is done.
    local _, log = run_child("spooled", ([[
      local task = music.spawn(function() return assert(c:download({ url = %q }, %q)) end)
      while not task:done() do music.step(0) end
      assert(task:result())
    ]]):format(st.url, path), "openat,write")
    local main = log:match("^(%d+)")
    local opener, fd = log:match('\n(%d+) +openat%([^\n]-spooled%.wav%.part%-%x+"[^\n]-%) = (%d+)')
    assert.truthy(fd, "no temporary file opened:\n" .. log)
    assert.not_equal(main, opener, "the temporary file was made on the main thread")
    local on_worker, on_main = 0, 0
    for tid in log:gmatch("\n(%d+) +write%(" .. fd .. ",") do
      if tid == main then on_main = on_main + 1 else on_worker = on_worker + 1 end
    end
    assert.is_true(on_worker > 0, "no write to the temporary file:\n" .. log)
    assert.equal(0, on_main)
    assert.equal(read_file(path), fetch(st.url))
  end)

  -- #posix: needs strace
  it("lets a script that waits for its download write it in place, the cheaper way #posix", function()
    local st = env.completed()
    local path = env.dir .. "/inplace.wav"
    local _, log = run_child("inplace", ("assert(c:download({ url = %q }, %q))"):format(st.url, path),
      "openat,write")
    local main = log:match("^(%d+)")
    local opener, fd = log:match('\n(%d+) +openat%([^\n]-inplace%.wav%.part%-%x+"[^\n]-%) = (%d+)')
    assert.truthy(fd, "no temporary file opened:\n" .. log)
    assert.equal(main, opener)
    for tid in log:gmatch("\n(%d+) +write%(" .. fd .. ",") do assert.equal(main, tid) end
    assert.equal(read_file(path), fetch(st.url))
  end)

  -- #posix: needs strace
  it("pauses a download whose bytes wait for a slow disk, instead of holding them all #posix", function()
    env.mock:config { audio_seconds = 120 }
    local st = env.completed()
    local full = fetch(st.url)
    local path = env.dir .. "/slow.wav"
    -- Every write of the worker takes 5 ms more: the disk falls behind the network.
    local trace = env.dir .. "/slow.trace"
    local script = env.dir .. "/slow.lua"
    util.write_file(script, ([[
      package.path = %q; package.cpath = %q
      local music = require "aimlmusic"
      local c = assert(music.new { api_key = %q, base_url = %q })
      local task = music.spawn(function() return assert(c:download({ url = %q }, %q)) end)
      while not task:done() do music.step(0) end
      assert(task:result())
    ]]):format(package.path, package.cpath, env.mock.key, env.mock.api_url, st.url, path))
    local out = util.sh(("ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" strace -f -qq -ttt -e trace=recvfrom,write"
      .. " -e inject=write:delay_enter=5000 -o %s %s %s 2>&1 && echo OK"):format(q(trace), util.LUA, q(script)))
    assert.matches("OK\n$", out)
    assert.equal(full, read_file(path))
    -- The main thread reads the track from its socket as the worker writes it: without the
    -- pause it would read all of it at loopback speed and keep it in memory.
    local log = read_file(trace)
    local main = log:match("^(%d+)")
    local first, last, bytes
    for line in log:gmatch("[^\n]+") do
      local tid, at, n = line:match("^(%d+) +([%d.]+) recvfrom%(.*= (%d+)$")
      if tid == main and tonumber(n) > 0 then
        first = first or tonumber(at)
        last = tonumber(at)
        bytes = (bytes or 0) + tonumber(n)
      end
    end
    -- (a call another thread's line cut in two is not counted: most are)
    assert.truthy(bytes and bytes > #full / 2, ("%s of %d bytes read by recvfrom on the main thread"):format(
      tostring(bytes), #full))
    local writes = #full / (96 * 1024)
    local least = (writes - 2 * 512 / 96) * 0.005 / 2 -- half of what the delays force, spool aside
    assert.is_true(last - first >= least, ("read in %.3f s, the worker needs %.3f s at least"):format(
      last - first, least * 2))
  end)

  -- #posix: needs strace and epoll
  it("keeps the pollable set exact while connections are reused #posix", function()
    local job = assert(env.client:submit(fixture.WAV))
    -- Two rounds of 8 polls at once over reused connections.
    local _, log = run_child("polls", ([[
      for _ = 1, 2 do
        for _ = 1, 8 do music.spawn(function() assert(c:status(%q)) end) end
        music.run()
      end
    ]]):format(job.id), "epoll_ctl")
    -- However many connections libcurl used (polls may share one, and an idle one may stay in
    -- the set), the set is kept exactly: a descriptor is added only when out of it, changed or
    -- taken out only when in it, and one taken out comes back with a single ADD.
    local in_set, adds, dels = {}, 0, 0
    for op, fd in log:gmatch("EPOLL_CTL_(%u+), (%d+)") do
      if op == "ADD" then
        assert.is_nil(in_set[fd], "fd " .. fd .. " added twice:\n" .. log)
        in_set[fd], adds = true, adds + 1
      else
        assert.is_true(in_set[fd], "fd " .. fd .. " changed out of the set (" .. op .. "):\n" .. log)
        if op == "DEL" then in_set[fd], dels = nil, dels + 1 end
      end
    end
    assert.is_true(adds >= 2 and dels >= 1, "no connection went through the set:\n" .. log)
    assert.is_nil(log:find("= %-1 E"), "an epoll_ctl failed:\n" .. log)
  end)
end)
