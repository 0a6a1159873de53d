-- Turns the raw measurements of bench/run.sh into one markdown table: printed, and written to
-- the given file for the README.
-- usage: lua report.lua RESULTS_TXT OUT_MD
local results_path, out_path = arg[1], arg[2]

local fmt, concat = string.format, table.concat
local unpack = table.unpack or unpack -- luacheck: ignore 143

-- results.txt: one "key value..." per line.
local R = {}
for line in io.lines(results_path) do
  local k, v = line:match("^(%S+)%s?(.*)$")
  if k then R[k] = v end
end

local function num(k)
  local v = tonumber(R[k])
  if not v then error("bench: no number for " .. k, 0) end
  return v
end

-- m.NAME: wall user sys maxrss_kib, as written by bench/measure.
local function meas(name)
  local line = R["m." .. name]
  if not line then error("bench: no measurement " .. name, 0) end
  local wall, user, sys, rss = line:match("^(%S+) (%S+) (%S+) (%S+)$")
  return { wall = tonumber(wall), cpu = tonumber(user) + tonumber(sys), rss = tonumber(rss) / 1024 }
end

-- KEY: "key value key value ..."
local function fields(key)
  local t = {}
  local line = R[key] or ""
  for k, v in line:gmatch("(%S+) (%S+)") do t[k] = tonumber(v) or v end
  return t
end

-- o.NAME: the last line a driver printed.
local function out(name) return fields("o." .. name) end

local function median(list)
  local s = {}
  for i = 1, #list do s[i] = list[i] end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

local function worst(list) return math.max(unpack(list)) end

-- The machine may be shared: noise comes in bursts. Peers take turns within each round, so a
-- ratio is taken between runs made seconds apart, round by round, and the median over the
-- rounds is reported with its range.
local function ratios(a, b) -- a[r] / b[r] for every round: median, min, max
  local q = {}
  for r = 1, #a do q[r] = a[r] / b[r] end
  return { mid = median(q), lo = math.min(unpack(q)), hi = math.max(unpack(q)) }
end

local lines = {}
local function w(...) lines[#lines + 1] = concat({ ... }) end

local function ratio(x) return x >= 100 and fmt("%.0fx", x) or x >= 10 and fmt("%.1fx", x) or fmt("%.2fx", x) end
local function mib(x) return fmt("%.1f", x) end

local targets = {}
local function target(what, measured, goal, met)
  local verdict
  if met == nil then verdict = "reference" else verdict = met and "met" or "**missed**" end
  targets[#targets + 1] = { what, measured, goal, verdict }
end

local sections = {}
for w_ in (R["param.sections"] or "cost jobs dl step"):gmatch("%S+") do sections[w_] = true end

local rounds = num("param.rounds")
local poll = num("param.poll")
local job_seconds = num("param.job_seconds")

w("# aimlmusic benchmarks")
w("")
w("Measured by `make bench` (bench/run.sh) on ", R["fact.date"], ": ", R["fact.nproc"], " x ", R["fact.cpu"],
  ", ", R["fact.kernel"], ". ", R["fact.lua"], "; the module and the C floor on ", R["fact.libcurl"],
  "; ", R["fact.curl"], " command; ", R["fact.python"], "; ", R["fact.luasocket"], "; ", R["fact.cjson"],
  "; ", R["fact.nginx"], ". Library: ", R["fact.commit"], ". Every client runs in a process of its own and",
  " is measured from outside the same way (wait4's rusage: CPU = user + sys, max RSS; a monotonic clock for",
  " wall time). Servers",
  " (nginx, the mock) run in their own processes on loopback and are not counted. CPU placement: ",
  R["param.pinning"] or "none", " (a loopback round trip between two CPUs of a VM goes through the",
  " hypervisor: it doubles the floor's cost and, left to the scheduler, flips from run to run).",
  R["fact.load_start"] and (" Load average (1, 5, 15 min) at the start: " .. R["fact.load_start"] .. "; at the end: "
    .. (R["fact.load_end"] or "?") .. " (other work on the machine inflates wall times and ratios).") or "")
w("")

---------------------------------------------------------------------------
-- 1. per-request cost
local function range(q) return ratio(q.mid) .. " (" .. ratio(q.lo) .. "-" .. ratio(q.hi) .. ")" end
if sections.cost then
  local peers = {
    { "floor", "C, one reused libcurl handle (the floor)", "n_fast", "kept alive" },
    { "module", "aimlmusic", "n_fast", "kept alive" },
    { "luasocket", "LuaSocket + cjson", "n_fast", "one per request" },
    { "popen_curl", "io.popen of curl + cjson", "n_curl", "a curl process per request" },
    { "requests", "Python requests, as in the service's examples", "n_py", "one per request" },
  }
  local cost = {}
  for _, p in ipairs(peers) do
    local id, n = p[1], num("param." .. p[3])
    local cpu, wall, cpu0, wall0, rss = {}, {}, {}, {}, {}
    for r = 1, rounds do
      local a, b = meas(("c.%s.0.%d"):format(id, r)), meas(("c.%s.%d.%d"):format(id, n, r))
      cpu[r], wall[r] = (b.cpu - a.cpu) / n, (b.wall - a.wall) / n
      cpu0[r], wall0[r], rss[r] = a.cpu, a.wall, b.rss
    end
    cost[id] = { n = n, cpus = cpu, walls = wall, cpu = median(cpu), wall = median(wall), cpu0 = median(cpu0),
      wall0 = median(wall0), rss = worst(rss), label = p[2], conn = p[4] }
  end
  local floor = cost.floor
  w("## 1. Per-request cost: submit + status cycles against nginx on loopback")
  w("")
  w("Each cycle is a POST of the same JSON body (the service's example prompt and lyrics) and a GET of the",
    " status with the id from the answer, every peer sending a key of a real key's length (32 hex digits).",
    " Every peer decodes both answers; the floor (bench/floor.c) parses each into a tree with a small C",
    " parser and reads the id, the status and the audio URL from it, with the module's libcurl settings",
    " (headers and User-Agent, timeouts, TCP keep-alive, HTTP/2 by ALPN); it validates, redacts and guards",
    " nothing, and sends a body encoded once. The module validates and encodes every submit, searches every",
    " answer for its key, maps the status into st, and guards each submit against a second send. Per cycle = (run with",
    " N cycles - run with 0 cycles) / N: the start-up (interpreter, imports, client) is measured the same way",
    " for every peer, shown on its own and subtracted. Peers take turns, round after round, ", rounds, " rounds:",
    " times are medians over the rounds; a ratio to the floor is taken within each round (runs seconds apart)",
    " and its median is shown with the range over the rounds; peak RSS is the largest.")
  w("")
  w("| client | connections | N | CPU us/cycle | CPU x floor (range) | wall us/cycle | wall x floor (range) |",
    " start-up CPU ms | start-up wall ms | peak RSS MiB |")
  w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
  for _, p in ipairs(peers) do
    local c = cost[p[1]]
    c.cpu_x, c.wall_x = ratios(c.cpus, floor.cpus), ratios(c.walls, floor.walls)
    w("| ", c.label, " | ", c.conn, " | ", c.n, " | ", fmt("%.1f", c.cpu * 1e6), " | ",
      p[1] == "floor" and "1.00x" or range(c.cpu_x), " | ", fmt("%.1f", c.wall * 1e6), " | ",
      p[1] == "floor" and "1.00x" or range(c.wall_x), " | ", fmt("%.1f", c.cpu0 * 1e3), " | ",
      fmt("%.1f", c.wall0 * 1e3), " | ", mib(c.rss), " |")
  end
  w("")
  target("CPU per cycle, aimlmusic / C floor", range(cost.module.cpu_x), "<= 1.25x", cost.module.cpu_x.mid <= 1.25)
  target("CPU per cycle, LuaSocket + cjson / C floor", range(cost.luasocket.cpu_x), "near 2x", nil)
  target("CPU per cycle, curl command / C floor", range(cost.popen_curl.cpu_x), "near 200x", nil)
end

---------------------------------------------------------------------------
-- 2. concurrency
if sections.jobs then
  w("## 2. Concurrency: jobs at once against the mock server")
  w("")
  w("Each job is a task running `client:generate` (submit, then a status poll every ", poll, " s until",
    " completed); the mock completes a job ", job_seconds, " s after its submit. Figures are for the whole",
    " client process, interpreter start-up included.")
  w("")
  w("| jobs | completed | wall s | CPU s | peak RSS MiB |")
  w("|--:|--:|--:|--:|--:|")
  for _, j in ipairs({ 10, 100, 1000 }) do
    local mm, o = meas("jobs." .. j), out("jobs." .. j)
    w("| ", j, " | ", o.ok or "?", " | ", fmt("%.2f", mm.wall), " | ", fmt("%.2f", mm.cpu), " | ", mib(mm.rss), " |")
  end
  w("")
  local j1000 = meas("jobs.1000")
  target("1000 jobs of 3 s: wall", fmt("%.2f s", j1000.wall), "<= 4.5 s", j1000.wall <= 4.5)
  target("1000 jobs of 3 s: CPU", fmt("%.2f s", j1000.cpu), "< 1.5 s", j1000.cpu < 1.5)
  target("1000 jobs of 3 s: peak RSS", fmt("%.1f MiB", j1000.rss), "< 40 MiB", j1000.rss < 40)
end

---------------------------------------------------------------------------
-- 3. download
if sections.dl then
  local dl_mib = num("param.dl_mib")
  local idle = meas("dl.idle")
  local fs_label = { disk = R["fact.fs"] .. " (the scratch directory)", tmpfs = "tmpfs" }
  local dl = {}
  for where in R["param.dl_targets"]:gmatch("%S+") do
    for _, who in ipairs({ "module", "curl" }) do
      local x = { wall = {}, cpu = {}, rss = {} }
      for r = 1, rounds do
        local name = ("%s.%s.%d"):format(where, who, r)
        local mm = meas("dl." .. name)
        local size = num("size.dl." .. name)
        if size ~= dl_mib * 1048576 then error(("bench: %s downloaded %d bytes"):format(name, size), 0) end
        x.wall[r], x.cpu[r], x.rss[r] = mm.wall, mm.cpu, mm.rss
      end
      x.walls = x.wall
      x.wall, x.cpu, x.rss = median(x.wall), median(x.cpu), worst(x.rss)
      x.tput = dl_mib / x.wall
      dl[where .. "." .. who] = x
    end
    -- throughput ratio module / curl = wall curl / wall module, round by round
    dl[where .. ".x"] = ratios(dl[where .. ".curl"].walls, dl[where .. ".module"].walls)
  end
  w("## 3. Download: ", dl_mib, " MiB from nginx on loopback to a file")
  w("")
  w("Whole process, start-up included; medians of ", rounds, " rounds, the two clients taking turns; the ratio",
    " is taken within each round (median and range); peak RSS is the largest. The idle interpreter is ", R["fact.lua"],
    " with the module loaded and a client made. The module writes to a temporary file, fsyncs and renames it;",
    " `curl -o` writes the file and exits. On tmpfs fsync costs nothing: that row separates the transfer",
    " from the file system.")
  w("")
  w("| client | file on | MiB/s | x curl (range) | wall s | CPU s | peak RSS MiB | above idle interpreter MiB |")
  w("|---|---|--:|--:|--:|--:|--:|--:|")
  for where in R["param.dl_targets"]:gmatch("%S+") do
    local dm, dc = dl[where .. ".module"], dl[where .. ".curl"]
    w("| aimlmusic `client:download` | ", fs_label[where], " | ", fmt("%.0f", dm.tput), " | ", range(dl[where .. ".x"]),
      " | ", fmt("%.3f", dm.wall), " | ", fmt("%.3f", dm.cpu), " | ", mib(dm.rss), " | ", mib(dm.rss - idle.rss), " |")
    w("| `curl -o` | ", fs_label[where], " | ", fmt("%.0f", dc.tput), " | 1.00x | ", fmt("%.3f", dc.wall), " | ",
      fmt("%.3f", dc.cpu), " | ", mib(dc.rss), " | |")
  end
  w("| idle interpreter | | | | ", fmt("%.3f", idle.wall), " | ", fmt("%.3f", idle.cpu), " | ", mib(idle.rss), " | |")
  w("")
  local dm = dl["disk.module"]
  target("download throughput, aimlmusic / curl (file on " .. R["fact.fs"] .. ")", range(dl["disk.x"]), ">= 0.9x",
    dl["disk.x"].mid >= 0.9)
  if dl["tmpfs.x"] then
    target("download throughput, aimlmusic / curl (file on tmpfs)", range(dl["tmpfs.x"]), ">= 0.9x", nil)
  end
  target("download peak RSS above an idle interpreter", fmt("%.1f MiB", dm.rss - idle.rss), "< 8 MiB",
    dm.rss - idle.rss < 8)
end

---------------------------------------------------------------------------
-- 4. responsiveness
if sections.step then
  local st = out("step")
  local req_wall, req_cpu = {}, {}
  for i = 1, 21 do
    local v = R["require." .. i]
    local a, b = v:match("require_ms (%S+) cpu_ms (%S+)")
    req_wall[i], req_cpu[i] = tonumber(a), tonumber(b)
  end
  w("## 4. Responsiveness")
  w("")
  w("100 jobs in flight (submit, poll every ", poll, " s, download the audio, ", job_seconds, " s jobs at the",
    " mock), driven as a game drives them: `music.step(0)` once per iteration of a loop that sleeps 1 ms;",
    " every call is timed, in wall time (what a frame sees; the targets) and in CPU time (os.clock: work done,",
    " as opposed to waiting in the kernel or being preempted). The first call starts all 100 jobs. The second",
    " column runs the same jobs without downloading the audio. `require` is timed in 21 fresh interpreters.")
  w("")
  w("| music.step(0), 100 jobs in flight | with downloads | without downloads |")
  w("|---|--:|--:|")
  local sn = out("step_nodl")
  w("| step(0) calls | ", st.steps, " | ", sn.steps, " |")
  w("| step(0) largest | ", fmt("%.3f ms", st.max_ms), " (call ", st.max_at, ") | ", fmt("%.3f ms", sn.max_ms),
    " (call ", sn.max_at, ") |")
  w("| step(0) largest after the first | ", fmt("%.3f ms", st.max_after_first_ms), " | ",
    fmt("%.3f ms", sn.max_after_first_ms), " |")
  w("| step(0) first (starts 100 jobs) | ", fmt("%.3f ms", st.first_ms), " | ", fmt("%.3f ms", sn.first_ms), " |")
  w("| step(0) 99th percentile | ", fmt("%.3f ms", st.p99_ms), " | ", fmt("%.3f ms", sn.p99_ms), " |")
  w("| CPU time of the largest step(0) | ", fmt("%.3f ms", st.max_step_cpu_ms), " | ", fmt("%.3f ms", sn.max_step_cpu_ms),
    " |")
  w("| step(0) largest CPU time | ", fmt("%.3f ms", st.cpu_max_ms), " | ", fmt("%.3f ms", sn.cpu_max_ms), " |")
  w("| step(0) 99th percentile of CPU time | ", fmt("%.3f ms", st.cpu_p99_ms), " | ", fmt("%.3f ms", sn.cpu_p99_ms), " |")
  w("| step(0) median | ", fmt("%.3f ms", st.p50_ms), " | ", fmt("%.3f ms", sn.p50_ms), " |")
  w("| jobs completed | ", st.ok, " of 100 | ", sn.ok, " of 100 |")
  w("")
  w("| `require \"aimlmusic\"` in a fresh interpreter | median |")
  w("|---|--:|")
  w("| wall | ", fmt("%.2f ms", median(req_wall)), " |")
  w("| CPU | ", fmt("%.2f ms", median(req_cpu)), " |")
  w("")
  target("step(0) largest, 100 jobs in flight", fmt("%.3f ms", st.max_ms), "< 2 ms", st.max_ms < 2)
  target("step(0) 99th percentile", fmt("%.3f ms", st.p99_ms), "< 0.5 ms", st.p99_ms < 0.5)
  target("step(0) largest, without downloads", fmt("%.3f ms", sn.max_ms), "< 2 ms", nil)
  target("step(0) 99th percentile, without downloads", fmt("%.3f ms", sn.p99_ms), "< 0.5 ms", nil)
end

---------------------------------------------------------------------------
-- 5. scale
if sections.scale then
  local sidle, pidle = meas("scale.idle"), meas("scale.py_idle")
  w("## 5. Scale: jobs at once in one Lua state")
  w("")
  w("Each job is a task running `client:generate` with an output: submit, one status poll (nginx on",
    " loopback answers \"completed\" at once), download of the 256 KiB audio from the second loopback",
    " host, file removed once there; `music.run()` drives them all. The peer runs the service's example",
    " code (Python requests) in one thread per job. Whole process, start-up included; per job = (figure -",
    " idle interpreter) / jobs, idle = the interpreter with the library (or requests) loaded.")
  w("")
  w("| client | jobs | completed | wall s | CPU s | peak RSS MiB | CPU ms per job | RSS KiB per job |")
  w("|---|--:|--:|--:|--:|--:|--:|--:|")
  local per = {}
  local function row(label, name, jobs, idle_m)
    local mm, o = meas(name), out(name)
    local cpu_job, rss_job = (mm.cpu - idle_m.cpu) / jobs, (mm.rss - idle_m.rss) * 1024 / jobs
    w("| ", label, " | ", jobs, " | ", o.ok or "?", " | ", fmt("%.2f", mm.wall), " | ", fmt("%.2f", mm.cpu), " | ",
      mib(mm.rss), " | ", fmt("%.3f", cpu_job * 1e3), " | ", fmt("%.1f", rss_job), " |")
    return { cpu_job = cpu_job, rss = mm.rss, rss_job = rss_job, ok = o.ok }
  end
  for j in R["param.scale_jobs"]:gmatch("%d+") do
    per[tonumber(j)] = row("aimlmusic", "scale.module." .. j, tonumber(j), sidle)
  end
  local py = {}
  for j in R["param.scale_py"]:gmatch("%d+") do
    py[tonumber(j)] = row("Python requests, a thread per job", "scale.py." .. j, tonumber(j), pidle)
  end
  w("")
  if per[1000] then
    target("1,000 jobs with downloads: peak RSS", fmt("%.1f MiB", per[1000].rss), "< 40 MiB", per[1000].rss < 40)
    if py[1000] then
      target("1,000 jobs: CPU per job, Python requests / aimlmusic", ratio(py[1000].cpu_job / per[1000].cpu_job),
        "peer", nil)
    end
  end
  if per[10000] then
    target("10,000 jobs with downloads: peak RSS", fmt("%.1f MiB", per[10000].rss), "< 200 MiB", per[10000].rss < 200)
    if per[1000] then
      local x = per[10000].cpu_job / per[1000].cpu_job
      target("CPU per job, 10,000 jobs / 1,000 jobs", ratio(x), "<= 1.2x", x <= 1.2)
      target("RSS per job, 10,000 jobs / 1,000 jobs", ratio(per[10000].rss_job / per[1000].rss_job), "flat (~1x)", nil)
    end
  end
  target("1,000 jobs peak RSS before this engine queued transfers (issue figure)", "49-60 MiB", "< 40 MiB", nil)
  target("10,000 jobs peak RSS before (issue figure)", "1,171 MiB", "< 200 MiB", nil)
end

---------------------------------------------------------------------------
-- keep: the scale jobs with their files kept
if sections.keep then
  local fs = R["param.keep_fs"] or "disk"
  w("## Keep: jobs at once with their files kept")
  w("")
  w("The jobs of section 5 with each file kept (fsynced, then linked into place), all downloads finishing at",
    " once, into tmpfs and onto the scratch directory (", fs, "), with every fsync as it is and slowed by an",
    " LD_PRELOAD shim (bench/slow_fsync.c). Whole process; load = the 1-minute load average before the run.")
  w("")
  w("| jobs | files on | fsync | completed | files | wall s | CPU s | peak RSS MiB | load |")
  w("|--:|---|--:|--:|--:|--:|--:|--:|--:|")
  for j in R["param.keep_jobs"]:gmatch("%d+") do
    for _, where in ipairs { "tmpfs", "disk" } do
      for ms in R["param.keep_fsync_ms"]:gmatch("%d+") do
        local name = "keep." .. where .. "." .. ms .. "." .. j
        if R["m." .. name] then
          local mm, o = meas(name), out(name)
          local on = where == "disk" and fs or where
          w("| ", j, " | ", on, " | +", ms, " ms | ", o.ok or "?", " | ", R["files." .. name] or "?", " | ",
            fmt("%.2f", mm.wall), " | ", fmt("%.2f", mm.cpu), " | ", mib(mm.rss), " | ", R["load." .. name] or "?",
            " |")
          local goal = tonumber(j) <= 1000 and 40 or tonumber(j) <= 10000 and 200 or nil
          if goal then
            target(fmt("%s jobs, files kept on %s, fsync +%s ms: peak RSS", j, on, ms), fmt("%.1f MiB", mm.rss),
              fmt("< %d MiB", goal), mm.rss < goal)
          end
          -- Before the easy handle went back at libcurl's end and admission waited for the disk.
          local before = ({ ["1000.tmpfs.0"] = "39.4", ["1000.tmpfs.20"] = "272", ["1000.disk.0"] = "89",
            ["1000.disk.20"] = "277", ["10000.tmpfs.0"] = "187", ["10000.tmpfs.20"] = "2,262",
            ["10000.disk.0"] = "981", ["10000.disk.20"] = "2,078" })[j .. "." .. where .. "." .. ms]
          if before then
            target(fmt("… before (issue 23 figure, %s)", where == "disk" and "ext4" or where), before .. " MiB",
              fmt("< %d MiB", goal), nil)
          end
        end
      end
    end
  end
  w("")
end

---------------------------------------------------------------------------
-- 6. hosts
if sections.hosts then
  w("## 6. Hosts: Neovim and LÖVE")
  w("")
  local nv = fields("host.nvim")
  if nv.base_ms then
    w("Neovim (headless, its own LuaJIT and luv loop): a 10 ms repeating timer alone, then the same timer while ",
      nv.jobs, " jobs (submit, poll, download; mock jobs of ", job_seconds, " s) run as tasks driven by",
      " `aimlmusic.uv`; ", nv.rounds, " rounds in one run. Added = largest gap with the jobs - largest gap without,",
      " round by round.")
    w("")
    w("| Neovim, 10 ms timer | largest gap |")
    w("|---|--:|")
    w("| without the library (largest of the rounds) | ", fmt("%.1f ms", nv.base_ms), " |")
    w("| with ", nv.jobs, " jobs in flight (largest of the rounds) | ", fmt("%.1f ms", nv.with_ms), " |")
    w("| added by the library, median of the rounds | ", fmt("%.1f ms", nv.added_median_ms), " |")
    w("| added by the library, largest of the rounds | ", fmt("%.1f ms", nv.added_max_ms), " |")
    w("")
    target("Neovim: timer gap the library adds (median of rounds)", fmt("%.1f ms", nv.added_median_ms), "< 5 ms",
      nv.added_median_ms < 5)
  end
  if R["m.uv.uv.1"] then
    w("The luv adapter two ways, 100 jobs (submit, poll every 0.5 s, download; 3 s jobs), 3 rounds taking turns:",
      " `aimlmusic.uv` (a luv poll per libcurl socket, libcurl's timer as a luv timer) and a dozen lines on",
      " `music.pollfd()` (one luv poll on the descriptor and one timer for `music.timeout()`; bench/uv_both.lua).",
      " Whole process; medians.")
    w("")
    w("| luv adapter | CPU s | wall s | peak RSS MiB |")
    w("|---|--:|--:|--:|")
    for _, way in ipairs({ "uv", "pollfd" }) do
      local cpu, wall, rss = {}, {}, {}
      for r = 1, 3 do
        local mm = meas(("uv.%s.%d"):format(way, r))
        cpu[r], wall[r], rss[r] = mm.cpu, mm.wall, mm.rss
      end
      w("| ", way == "uv" and "aimlmusic.uv (socket by socket)" or "on music.pollfd()", " | ", fmt("%.3f", median(cpu)),
        " | ", fmt("%.2f", median(wall)), " | ", mib(worst(rss)), " |")
    end
    w("")
  end
  -- LÖVE: five rounds per way; medians, and the range over the rounds.
  local love = {}
  for mode = 0, 1 do
    local runs = {}
    for r = 1, 5 do
      local f = fields(("host.love.%d.%d"):format(mode, r))
      if f.max_ms then runs[#runs + 1] = f end
    end
    love[mode] = runs
  end
  if #love[0] > 0 or #love[1] > 0 then
    w("LÖVE 11.4 (headless): `music.step(0)` once per frame (love.update; love.run sleeps 1 ms a frame) with 100",
      " jobs in flight (submit, poll every 0.5 s, download 256 KiB to the scratch directory), each call timed in",
      " wall time (what a frame sees) and in the thread's CPU time (work done, not preemption); ", #love[0],
      " rounds, the two ways taking turns: medians, and the range over the rounds. A step's work keeps to its",
      " budget (0.3 ms: libcurl half of it, then tasks); downloads are made and written by the engine's workers.",
      " The second column also asks for `music.pollfd()`, as a host that watches it. The reference is a fixed",
      " 0.3 ms of the game's own Lua run after each step and timed the same way: what its largest call takes",
      " over its median is what this machine adds to any call of that frame.")
    w("")
    w("| LÖVE, step(0) with 100 jobs | default | after music.pollfd() |")
    w("|---|--:|--:|")
    local function col(mode, k)
      local list = {}
      for _, f in ipairs(love[mode]) do list[#list + 1] = f[k] end
      if #list == 0 then return "-" end
      local lo, hi = math.min(unpack(list)), math.max(unpack(list))
      return fmt("%.3f ms (%.3f–%.3f)", median(list), lo, hi)
    end
    local function row(label, k) w("| ", label, " | ", col(0, k), " | ", col(1, k), " |") end
    w("| calls | ", love[0][1] and love[0][1].steps or "-", " | ", love[1][1] and love[1][1].steps or "-", " |")
    row("largest", "max_ms")
    row("largest after the first", "max_after_first_ms")
    row("99th percentile", "p99_ms")
    row("largest CPU time", "cpu_max_ms")
    row("99th percentile of CPU time", "cpu_p99_ms")
    row("first (starts 100 jobs)", "first_ms")
    row("reference (0.3 ms of Lua): median", "ref_median_ms")
    row("reference: 99th percentile", "ref_p99_ms")
    row("reference: largest", "ref_max_ms")
    w("")
    for mode = 0, 1 do
      local list, cpu = {}, {}
      for _, f in ipairs(love[mode]) do list[#list + 1], cpu[#cpu + 1] = f.max_ms, f.cpu_max_ms end
      if #list > 0 then
        local what = mode == 0 and "LÖVE: longest step(0), 100 jobs in flight"
          or "LÖVE: longest step(0), 100 jobs, after music.pollfd()"
        target(what, fmt("%.3f ms (median of %d)", median(list), #list), "< 1 ms", median(list) < 1)
        if #cpu > 0 then
          target(what .. ", CPU time", fmt("%.3f ms (median of %d)", median(cpu), #cpu), "< 1 ms", median(cpu) < 1)
        end
      end
    end
    target("LÖVE: longest step(0) before (issue figure)", "1.38 ms", "< 1 ms", nil)
  end
end

---------------------------------------------------------------------------
-- 7. time to music
if sections.music then
  local scale = num("param.music_scale")
  w("## 7. Time to music")
  w("")
  w("Job durations drawn from 50-90 s (the same list for every strategy), the whole run time-scaled by ", scale,
    " (the mock's durations, the loops' intervals and the library's starting guess alike), figures in unscaled",
    " seconds. Delay = from the moment the job completes at the mock to its file on disk (download included).",
    " Wave 1 meets a fresh client; wave 2 the same clients after wave 1 (the default schedule has learned).")
  w("")
  w("| follow-up loop | wave | jobs | mean delay s | status requests per job |")
  w("|---|--:|--:|--:|--:|")
  local labels = {
    seeds15 = "seeds' loop: a poll every 15 s (music-2.0's example)",
    seeds10 = "seeds' loop: a poll every 10 s (music-1.5's example)",
    default = "aimlmusic, default schedule",
    interval5 = "aimlmusic, poll_interval = 5 (the former default)",
  }
  local mt = {}
  for wave = 1, 2 do
    for _, k in ipairs({ "seeds15", "seeds10", "default", "interval5" }) do
      local o = fields("music." .. k .. "." .. wave)
      mt[k .. wave] = o
      w("| ", labels[k], " | ", wave, " | ", o.jobs or "?", " | ", fmt("%.2f", o.delay_s or 0), " | ",
        fmt("%.2f", o.requests_per_job or 0), " |")
    end
  end
  w("")
  for wave = 1, 2 do
    local d, s15, s10 = mt["default" .. wave], mt["seeds15" .. wave], mt["seeds10" .. wave]
    local best_delay = math.min(s15.delay_s, s10.delay_s)
    local best_req = math.min(s15.requests_per_job, s10.requests_per_job)
    target(("time to music, wave %d: mean delay, default vs the seeds' best"):format(wave),
      fmt("%.2f s vs %.2f s", d.delay_s, best_delay), "lower", d.delay_s < best_delay)
    target(("time to music, wave %d: status requests per job, default vs the seeds' fewest"):format(wave),
      fmt("%.2f vs %.2f", d.requests_per_job, best_req), "fewer", d.requests_per_job < best_req)
  end
end

---------------------------------------------------------------------------
-- 8. connections
if sections.tls then
  local n_of = { h1 = num("param.n_tls"), h2 = num("param.n_tls"), fresh = num("param.n_fresh"),
    nocache = num("param.n_nocache") }
  local function per_cycle(peer, where) -- CPU s per cycle, one per round
    local n, cpu = n_of[where], {}
    for r = 1, rounds do
      local a = meas(("t.%s.%s.1.%d"):format(peer, where, r))
      local b = meas(("t.%s.%s.%d.%d"):format(peer, where, n, r))
      cpu[r] = (b.cpu - a.cpu) / (n - 1)
    end
    return cpu
  end
  w("## 8. Connections: TLS 1.3, HTTP/1.1 and HTTP/2, fresh connections")
  w("")
  w("The cycles of section 1 against nginx over TLS 1.3, every peer verifying against Debian's CA bundle",
    " (with the bench's own CA added) and no CA directory: the module's settings, given to the floor too.",
    " HTTP/1.1: a server that offers only it; HTTP/2: one that offers h2 by ALPN. Fresh: nginx closes each",
    " connection after its answer, so each request opens a TLS connection (with libcurl's TLS session",
    " resumption, as both peers run by default); the cost per connection is half a cycle, the request",
    " included. Per cycle = (run of N cycles - run of 1) / (N - 1): a process's first connection and its one",
    " parse of the CA bundle are left out, for every peer alike. CPU medians over ", rounds, " rounds; ratios",
    " within each round, median and range.")
  w("")
  w("| transport | N | floor CPU us/cycle | aimlmusic CPU us/cycle | aimlmusic x floor (range) |")
  w("|---|--:|--:|--:|--:|")
  local x = {}
  for _, row in ipairs { { "h1", "TLS 1.3, HTTP/1.1, kept alive" }, { "h2", "TLS 1.3, HTTP/2, kept alive" },
    { "fresh", "TLS 1.3, a connection per request" } } do
    local f, m = per_cycle("floor", row[1]), per_cycle("module", row[1])
    x[row[1]] = { floor = median(f), module = median(m), q = ratios(m, f) }
    w("| ", row[2], " | ", n_of[row[1]], " | ", fmt("%.1f", median(f) * 1e6), " | ", fmt("%.1f", median(m) * 1e6),
      " | ", range(x[row[1]].q), " |")
  end
  local nocache = median(per_cycle("module", "nocache"))
  w("| … aimlmusic with the CA directory named (ca_path): the bundle parsed per connection | ",
    n_of.nocache, " | | ", fmt("%.1f", nocache * 1e6), " | |")
  w("")
  target("CPU per cycle over TLS 1.3 + HTTP/1.1, aimlmusic / C floor", range(x.h1.q), "<= 1.5x", x.h1.q.mid <= 1.5)
  target("CPU per cycle over TLS 1.3 + HTTP/2, aimlmusic / C floor", range(x.h2.q), "<= 1.5x", x.h2.q.mid <= 1.5)
  target("CPU per fresh TLS connection, aimlmusic (Debian's CA store)", fmt("%.2f ms (floor %.2f ms)",
    x.fresh.module / 2 * 1e3, x.fresh.floor / 2 * 1e3), "<= 2 ms", x.fresh.module / 2 <= 0.002)
  target("… with a CA directory, as libcurl's default on Debian", fmt("%.1f ms", nocache / 2 * 1e3), "", nil)
end

---------------------------------------------------------------------------
w("## Targets")
w("")
w("Benchmarks report; they do not fail the build. \"reference\" rows give the peers' expected standing, or",
  " a diagnostic variant of a target.")
w("")
w("| target | measured | goal | verdict |")
w("|---|--:|--:|---|")
for _, t in ipairs(targets) do w("| ", t[1], " | ", t[2], " | ", t[3], " | ", t[4], " |") end

local text = concat(lines, "\n") .. "\n"
io.write(text)
local f = assert(io.open(out_path, "w"))
f:write(text)
f:close()
