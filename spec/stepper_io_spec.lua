-- The thread that calls music.step(0) never waits for the disk or another process: inside a
-- task, journal appends and reads, a local file sent as a data: URI, output reservations and
-- partial-file scans run on the engine's worker threads. Proved with strace: after warm-up, the
-- stepping thread of a process running 20 jobs with a journal, a cover from a local file and a
-- resume makes no open, write, fsync, flock, link, rename, unlink or directory read of a file;
-- nor when its downloads fail, are cancelled from the loop, or an on_progress raises: their
-- partial files are closed and removed on the workers.

local fixture = require "support.fixture"
local util = require "support.util"

local q, read_file, write_file = util.q, util.read_file, util.write_file

local env = fixture.mock_client { duration = 0.2 }

-- The system calls that touch a file (or may wait for another process holding its lock).
local CALLS = "open,openat,creat,write,pwrite64,writev,pwritev,ftruncate,fsync,fdatasync,flock,"
  .. "link,linkat,rename,renameat,renameat2,unlink,unlinkat,getdents64"
local MARK = "aimlmusic-steady-loop"

-- What the child runs: warm-up (modules loaded, a job submitted and left pending for the resume),
-- then the mark, then the steady loop of step(0) calls, as a game's frames would make them.
local CHILD = [[
package.path, package.cpath = %q, %q
local music = require "aimlmusic"
local socket = require "socket"
for _, m in ipairs { "aimlmusic.resume", "aimlmusic.journal", "aimlmusic.wait", "aimlmusic.perform" } do require(m) end
local dir, key, api = %q, %q, %q
local PARAMS = { model = "minimax/music-2.0", prompt = "A calm and soothing instrumental with gentle piano.",
  lyrics = "[Verse]\nStreetlights flicker, the night breeze sighs" }
local COVER = { model = "minimax/music-cover", prompt = "A jazz cover, brushes and upright bass",
  reference_audio_url = dir .. "/reference.wav" }
local function client() return assert(music.new { api_key = key, base_url = api, poll_interval = 0.05,
  journal = dir .. "/jobs.journal" }) end
local c = client()
-- A job of "the crashed run" for resume to finish: submitted, never waited for.
assert(c:submit(PARAMS, { output = dir .. "/left.mp3" }))
io.write("]] .. MARK .. [[\n") -- a write of its own, that strace shows whole
io.flush()
local ok, failures = 0, {}
for i = 1, 20 do
  music.spawn(function()
    local st, err = c:generate(i %% 5 == 1 and COVER or PARAMS, { output = dir .. "/track" .. i .. ".mp3" })
    if st and st.path then ok = ok + 1 else failures[#failures + 1] = tostring(err) end
  end)
end
local resumed
music.spawn(function() resumed = client():resume() end)
local deadline = os.time() + 120
while music.step(0) > 0 do
  assert(os.time() < deadline, "the jobs did not finish")
  socket.sleep(0.002)
end
local r1 = resumed and resumed[1]
assert(r1 and #resumed == 1 and r1.path == dir .. "/left.mp3", "resume: " .. tostring(r1 and r1.err))
io.write("done ", ok, " ", table.concat(failures, "; "), "\n")
]]

-- A descriptor or path that is not a regular file: a socket, a pipe, an eventfd, a device.
local function not_a_file(s)
  return s:match("^socket:") or s:match("^pipe:") or s:match("^anon_inode:") or s:match("^/dev/")
    or s:match("^/proc/") or s:match("^/sys/")
end

-- The calls of thread tid after the mark that touch a regular file: lines of an `strace -f -y`
-- trace (each line starts with the thread id).
local function file_calls(trace, tid)
  local seen_mark, bad = false, {}
  for line in trace:gmatch("[^\n]+") do
    local id, call, args = line:match("^(%d+)%s+([%w_]+)%((.*)$")
    if id and tonumber(id) == tid then
      if not seen_mark then
        seen_mark = call == "write" and args:find(MARK, 1, true) ~= nil
      else
        local target
        if call == "open" or call == "openat" or call == "creat" then
          target = args:match("= %-?%d+<([^>]*)>%s*$") or args:match('"([^"]*)"') or "?"
        elseif call:match("link") or call:match("rename") then
          target = args:match('"([^"]*)"') or "?" -- a name, always of the file system
        else
          target = args:match("^%d+<([^>]*)>") or "?" -- the descriptor's path, from -y
        end
        if not not_a_file(target) then bad[#bad + 1] = line end
      end
    end
  end
  return seen_mark, bad
end

describe("the stepping thread", function()
  -- #posix: needs strace
  it("makes no open, write, fsync, flock, link, rename, unlink or getdents of a file in a step(0) loop #posix",
    function()
    local dir = env.dir .. "/stepper"
    util.mkdir(dir)
    -- A short WAV file to cover.
    write_file(dir .. "/reference.wav", "RIFF\36\0\0\0WAVEfmt " .. ("\0"):rep(4000))
    local script, trace = dir .. "/child.lua", dir .. "/child.trace"
    write_file(script, CHILD:format(package.path, package.cpath, dir, env.mock.key, env.mock.api_url))
    -- LeakSanitizer (make asan) cannot run under ptrace: the child is traced without it.
    local out = util.sh(("ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" strace -f -y -qq -e trace=%s -o %s %s %s 2>&1"
      .. " && echo OK"):format(CALLS, q(trace), util.LUA, q(script)))
    assert.matches("done 20 \nOK\n$", out)
    local text = assert(read_file(trace))
    local tid = tonumber(text:match("^(%d+)")) -- the first line is the process's, whose id is the main thread's
    local marked, bad = file_calls(text, tid)
    assert.is_true(marked, "the child's mark is not in the trace")
    -- Proof that the trace sees the work at all: other threads did it.
    assert.matches("\n%d+%s+fsync%(", text)
    assert.same({}, bad)
  end)

  -- What the child runs for the failures: downloads of a track whose every transfer is cut (kept
  -- for one resume, then given up), of a slow one cancelled from the loop once bytes came, and
  -- of one whose on_progress raises.
  local FAILING = [[
package.path, package.cpath = %q, %q
local music = require "aimlmusic"
local socket = require "socket"
for _, m in ipairs { "aimlmusic.perform", "aimlmusic.retry" } do require(m) end
local dir, key, api, cut, slow, plain = %q, %q, %q, %q, %q, %q
local c = assert(music.new { api_key = key, base_url = api, max_retries = 1 })
io.write("]] .. MARK .. [[\n")
io.flush()
local kinds, came, slow_tasks = {}, {}, {}
for i = 1, 4 do
  music.spawn(function()
    local _, err = c:download({ url = cut }, dir .. "/cut" .. i .. ".wav")
    kinds[#kinds + 1] = err and err.kind
  end)
  slow_tasks[i] = music.spawn(function()
    return c:download({ url = slow }, dir .. "/slow" .. i .. ".wav", { on_progress = function(n) came[i] = n > 0 end })
  end)
  -- (its error ends the task and comes out of step: Lua 5.1 cannot yield across a pcall)
  music.spawn(function()
    local info = c:download({ url = plain }, dir .. "/raise" .. i .. ".wav", {
      on_progress = function(n)
        if n > 0 then
          kinds[#kinds + 1] = "enough"
          error("enough")
        end
      end })
    kinds[#kinds + 1] = info and "whole" or "?" -- done before its progress was ever reported
  end)
end
local deadline = os.time() + 120
local function step()
  local ok, n = pcall(music.step, 0)
  if ok then return n end
  assert(tostring(n):find("enough", 1, true), n) -- the raising downloads' errors, and no other
  return 1
end
while step() > 0 do
  assert(os.time() < deadline, "the jobs did not finish")
  for i, t in ipairs(slow_tasks) do
    if came[i] and not t:done() then t:cancel() end
  end
  socket.sleep(0.002)
end
-- Their files go on the workers: a few more steps drain those jobs.
for _ = 1, 50 do step(); socket.sleep(0.002) end
table.sort(kinds)
io.write("done ", table.concat(kinds, ","), "\n")
]]

  -- #posix: needs strace
  it("removes failed, cancelled and abandoned downloads' files on the workers, not in a step(0) loop #posix",
    function()
    local dir = env.dir .. "/failing"
    util.mkdir(dir)
    local cut, slow, plain = env.completed(), env.completed(), env.completed()
    local path = function(url) return url:match("^https?://[^/]+(/[^?]*)") end
    env.mock:fault { host = "cdn", action = "truncate", path = path(cut.url), times = -1 }
    env.mock:fault { host = "cdn", action = "slow", delay_ms = 3000, path = path(slow.url), times = -1 }
    local script, trace = dir .. "/child.lua", dir .. "/child.trace"
    write_file(script, FAILING:format(package.path, package.cpath, dir, env.mock.key, env.mock.api_url, cut.url,
      slow.url, plain.url))
    local out = util.sh(("ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" strace -f -y -qq -e trace=%s -o %s %s %s 2>&1"
      .. " && echo OK"):format(CALLS, q(trace), util.LUA, q(script)))
    -- each raising download ended with its error (or, done before it reported, whole)
    local kinds = assert(out:match("done ([%a,]+)\nOK\n$"), out)
    local n = {}
    for k in kinds:gmatch("%a+") do n[k] = (n[k] or 0) + 1 end
    assert.equal(4, n.network, out)
    assert.equal(4, (n.enough or 0) + (n.whole or 0), out)
    assert.is_true((n.enough or 0) >= 1, out)
    local text = assert(read_file(trace))
    local tid = tonumber(text:match("^(%d+)"))
    local marked, bad = file_calls(text, tid)
    assert.is_true(marked, "the child's mark is not in the trace")
    -- Proof that the trace sees the work: partial files were made and removed, elsewhere. The
    -- four cut downloads always leave one; a cancelled or raising one only when a worker had
    -- made its file before the bytes were reported.
    local removed = 0
    for _ in text:gmatch("\n%d+%s+unlink%([^\n]-%.part%-") do removed = removed + 1 end
    assert.is_true(removed >= 4, removed .. " partial files removed:\n" .. out)
    assert.same({}, bad)
    -- No partial file is left. (A track whose on_progress raised once every byte had come may
    -- be in place: its move had begun, and a move is never cut.)
    for _, name in ipairs(util.ls(dir)) do assert.falsy(name:find(".part-", 1, true), name) end
  end)
end)
