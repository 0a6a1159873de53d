--- The Neovim plugin behind :AimlMusic (see :help aimlmusic).
--
--    require("aimlmusic.nvim").setup {
--      model = "minimax/music-2.0",
--      output_dir = nil,          -- default: beside the buffer's file
--      api_key_cmd = nil,         -- e.g. { "pass", "show", "aimlapi" }; default: AIMLAPI_KEY
--      poll_interval = nil,       -- seconds between status polls (nil: the library's schedule)
--    }
--
-- Jobs run as aimlmusic tasks on Neovim's own libuv loop (aimlmusic.uv): no thread, no
-- polling timer, and nothing waits in the editor. Library callbacks run inside libuv
-- callbacks, where the editor API is off limits, so what they show goes through
-- vim.schedule.
-- @module aimlmusic.nvim

local command = require "aimlmusic.nvim.command"
local paths = require "aimlmusic.nvim.paths"
local notify = require "aimlmusic.nvim.notify"

local uv = vim.uv or vim.loop
local levels = vim.log.levels

local M = {}

--- The plugin's options, as setup() merges them.
-- @table config
-- @field model the model (default "minimax/music-2.0"); `:AimlMusic models NAME` changes it
-- @field output_dir where tracks go (default nil: beside the buffer's file, else the cwd)
-- @field api_key_cmd a command (string or list) that prints the key (default nil: AIMLAPI_KEY)
-- @field base_url the API (default nil: AIMLAPI_BASE_URL, then https://api.aimlapi.com)
-- @field poll_interval seconds between status polls (default nil: the library's schedule, which
-- polls from the start against a server on this machine such as the mock)
-- @field params more fields of every request, e.g. `{audio_setting = {format = "wav"}}`
-- @field journal true (default: under stdpath("state")), a path, or false (no journal)
-- @field resume_on_start "notify" (default: offer unfinished jobs), "auto" or false
-- @field player a command to play a track, the path appended: a list, or a string for the shell
-- (default: mpv, ffplay or paplay)
local defaults = {
  model = "minimax/music-2.0",
  output_dir = nil,
  api_key_cmd = nil,
  base_url = nil,
  poll_interval = nil,
  params = {},
  journal = true,
  resume_on_start = "notify",
  player = nil,
}

-- aimlmusic.nvim.Config (for lua-language-server).
---@class aimlmusic.nvim.Config
---@field model? string
---@field output_dir? string
---@field api_key_cmd? string|string[]
---@field base_url? string
---@field poll_interval? number
---@field params? table
---@field journal? boolean|string
---@field resume_on_start? "notify"|"auto"|false
---@field player? string[]|string

M.config = vim.deepcopy(defaults)

local music, client
local jobs = {}      -- in this session, in order: {label, task, id, status, path, note, started}
local reserved = {}  -- output paths chosen by jobs still running
local last_track     -- the path of the last track saved

--- Merges opts into the configuration; the next job uses a new client.
---@param opts? aimlmusic.nvim.Config
function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  client = nil
end

--- The journal's path, or nil when it is off: stdpath("state") (stdpath("data") on Neovim
-- releases without "state") .. "/aimlmusic/jobs.journal".
---@return string|nil
function M.journal_path()
  local j = M.config.journal
  if j == false then return nil end
  if type(j) == "string" then return j end
  local ok, dir = pcall(vim.fn.stdpath, "state")
  if not ok or type(dir) ~= "string" or dir == "" then dir = vim.fn.stdpath("data") end
  return dir .. "/aimlmusic/jobs.journal"
end

--- Where the plugin lies: the directory holding lua/aimlmusic.lua on the runtimepath.
---@return string|nil
function M.root()
  local file = vim.api.nvim_get_runtime_file("lua/aimlmusic.lua", false)[1]
  return file and vim.fn.fnamemodify(file, ":p:h:h")
end

--- What to do when the C core is missing: build it (and what that needs), or where a prebuilt
-- one goes. The message of `M.library()` when `require "aimlmusic.core"` finds nothing.
---@return string
function M.core_missing()
  local windows = package.config:sub(1, 1) == "\\"
  local root = M.root() or "<the plugin's directory>"
  local target = root .. (windows and "\\lua\\aimlmusic\\core.dll" or "/lua/aimlmusic/core.so")
  return table.concat({
    "the C core of aimlmusic is not built (no aimlmusic/core" .. (windows and ".dll" or ".so")
      .. " on the runtimepath or package.cpath).",
    "Build it: cd " .. root .. " && make nvim (lazy.nvim: build = \"make nvim\"),",
    "which needs a C compiler, make, pkg-config, LuaJIT's and libcurl's headers "
      .. "(Debian/Ubuntu: sudo apt-get install gcc make pkg-config libluajit-5.1-dev libcurl4-openssl-dev).",
    "Or put a core built for Neovim's LuaJIT at " .. target .. ".",
  }, "\n")
end

-- Loads the C core, raising core_missing()'s message when it is not built (another failure
-- as it is).
local function need_core()
  local ok, err = pcall(require, "aimlmusic.core")
  if ok then return end
  error(tostring(err):find("module 'aimlmusic.core' not found", 1, true) and M.core_missing() or err, 0)
end

--- The library, attached to Neovim's loop (loaded once). Raises core_missing()'s message
-- when the C core is not built.
---@return table aimlmusic
function M.library()
  if not music then
    need_core()
    -- setup() may have loaded the module while the core was missing: load it whole now.
    if package.loaded.aimlmusic and package.loaded.aimlmusic.without_core then package.loaded.aimlmusic = nil end
    music = require "aimlmusic"
    local adapter = require "aimlmusic.uv"
    if not adapter.attached() then adapter.attach(uv) end
  end
  return music
end

-- Runs api_key_cmd without the editor waiting for it; cb(key) or cb(nil, err), on the main loop.
local function fetch_key(cb)
  local out = {}
  local ok, id = pcall(vim.fn.jobstart, M.config.api_key_cmd, {
    stdout_buffered = true,
    on_stdout = function(_, data) out = data or {} end,
    on_exit = function(_, code)
      vim.schedule(function()
        if code ~= 0 then return cb(nil, "api_key_cmd failed (exit " .. code .. ")") end
        local key = table.concat(out, "\n"):match("^%s*(.-)%s*$")
        if key == "" then return cb(nil, "api_key_cmd printed nothing") end
        cb(key)
      end)
    end,
  })
  if not ok or id <= 0 then cb(nil, "cannot run api_key_cmd: " .. tostring(ok and id or id)) end
end

local function make_client(lib, key)
  local jpath = M.journal_path()
  if jpath then vim.fn.mkdir(vim.fn.fnamemodify(jpath, ":h"), "p") end
  local c, err = lib.new {
    api_key = key, base_url = M.config.base_url, poll_interval = M.config.poll_interval, journal = jpath,
  }
  if c then client = c end
  return c, err
end

--- Calls cb(client), or cb(nil, err), once the client exists. The first call creates it from
-- the configuration; with api_key_cmd, the command runs without the editor waiting for it.
---@param cb fun(client: table|nil, err: table|string|nil)
function M.with_client(cb)
  if client then return cb(client) end
  local ok, lib = pcall(M.library)
  if not ok then return cb(nil, "cannot load aimlmusic: " .. tostring(lib)) end
  if not M.config.api_key_cmd then
    -- Checked here, not left to the library: a client made without a key would keep failing
    -- after the user sets one.
    if (os.getenv("AIMLAPI_KEY") or "") == "" then
      return cb(nil, "no API key: set AIMLAPI_KEY (:let $AIMLAPI_KEY = ... works too), "
        .. "or api_key_cmd in setup{} (:help aimlmusic-setup)")
    end
    return cb(make_client(lib, nil))
  end
  fetch_key(function(key, err)
    if not key then return cb(nil, err) end
    if client then return cb(client) end -- another call got there first
    cb(make_client(lib, key))
  end)
end

local function describe(err)
  if type(err) ~= "table" then return tostring(err) end
  local lines = { tostring(err) }
  for _, f in ipairs(err.fields or {}) do
    local line = ("%s: %s"):format(tostring(f.field), tostring(f.message))
    if not lines[1]:find(line, 1, true) then lines[#lines + 1] = "  " .. line end
  end
  return table.concat(lines, "\n")
end

local say = notify.say

local function human_bytes(n)
  if n >= 1048576 then return ("%.1f MiB"):format(n / 1048576) end
  if n >= 1024 then return ("%.1f KiB"):format(n / 1024) end
  return ("%d B"):format(n)
end

-- Whether the model (an entry of music.models) has a field of that name.
local function model_has(model, name)
  for _, f in ipairs(model.fields or {}) do
    if f.name == name then return true end
  end
  return false
end

local function running(job)
  return job.task and not job.task:done()
end

-- Running, or waiting for its client (api_key_cmd still running): :AimlMusic cancel stops both.
local function cancellable(job)
  return running(job) or (job.waiting and not job.cancelled)
end

-- Callbacks that move job's notification along (from libuv callbacks: update schedules).
local function follow(job)
  local last_pct = -10
  local function on_submit(j)
    if not j or not j.id or job.id == j.id then return end
    job.id, job.status = j.id, j.status or "queued"
    job.note:set_id(j.id)
    job.note:update(("%s as %s"):format(job.status, j.id))
  end
  local function on_status(st)
    if st.id and not job.id then on_submit(st) end
    job.id, job.status = st.id or job.id, st.status
    job.note:update(("%s · %ds"):format(st.status, math.floor(uv.now() / 1000 - job.started)))
  end
  local function on_progress(done, total)
    job.status = "downloading"
    if total and total > 0 then
      local pct = math.floor(done * 100 / total)
      if pct >= last_pct + 10 then
        last_pct = pct
        job.note:update(("downloading %d%% of %s"):format(pct, human_bytes(total)), nil, nil, pct)
      end
    end
  end
  return on_submit, on_status, on_progress
end

-- A key the service refused: the next job reads the key again (AIMLAPI_KEY or api_key_cmd),
-- so setting the right one needs no restart.
-- Returns what to add to the job's failure.
local function forget_refused(c, err)
  if type(err) ~= "table" or err.kind ~= "auth" then return "" end
  if client == c then client = nil end
  return "\n  the key was refused: set the right one ("
    .. (M.config.api_key_cmd and "api_key_cmd" or "AIMLAPI_KEY") .. "); the next job reads it again"
end

-- In the task: generate; if something took the name meanwhile, keep the paid job under the
-- next free one.
local function run_job(c, job, params)
  local on_submit, on_status, on_progress = follow(job)
  local st, err = c:generate(params, { output = job.path, on_submit = on_submit, on_status = on_status,
    on_progress = on_progress })
  while not st and err.url and err.kind == "io" and err.code == "EEXIST" do
    reserved[job.path] = nil
    job.path = paths.free(vim.fn.fnamemodify(job.path, ":h"), vim.fn.fnamemodify(job.path, ":t:r"),
      vim.fn.fnamemodify(job.path, ":e"), reserved)
    reserved[job.path] = true
    local info
    info, err = c:download({ id = err.id, url = err.url }, job.path, { on_progress = on_progress })
    if info then
      st = { id = job.id, path = info.path, bytes = info.bytes }
      local jp = M.journal_path()
      if jp then require("aimlmusic.journal").delivered(jp, job.id, info) end
    end
  end
  reserved[job.path] = nil
  local hint = forget_refused(c, err)
  if st then
    job.status = "saved"
    last_track = st.path
    job.note:update(("saved %s (%s)"):format(st.path, human_bytes(st.bytes or 0)), levels.INFO, true, 100)
  else
    job.status = "failed"
    job.note:update("failed: " .. describe(err) .. hint, levels.ERROR, true)
  end
  return st, err
end

local function start_job(params, path, label, remark)
  local job = { label = label, path = path, status = "submitting", started = uv.now() / 1000 }
  job.note = notify.new(("#%d %s"):format(#jobs + 1, label))
  jobs[#jobs + 1] = job
  reserved[path] = true
  job.note:update_now(("submitting to %s, saving to %s%s"):format(params.model, path,
    remark and " (" .. remark .. ")" or ""))
  job.waiting = true
  M.with_client(function(c, err)
    job.waiting = nil
    if job.cancelled then return end -- cancelled before anything was sent
    if not c then
      reserved[path] = nil
      job.status = "failed"
      job.note:update_now("failed: " .. describe(err), levels.ERROR, true)
      return
    end
    job.task = music.spawn(function()
      -- A raise inside the task would surface in a libuv callback: report it instead.
      local ok, st, terr = xpcall(function() return run_job(c, job, params) end, debug.traceback)
      if not ok then
        reserved[path] = nil
        job.status = "failed"
        job.note:update("error: " .. tostring(st), levels.ERROR, true)
        return nil
      end
      return st, terr
    end)
  end)
  return job
end

--- Generates a track: the prompt as given, the lyrics from lines first..last of buffer buf
-- (default: all of the current buffer). The track is saved beside the buffer's file (or in
-- output_dir) under a name not yet taken.
---@param prompt string
---@param buf? integer
---@param first? integer 1-based first line
---@param last? integer 1-based last line
---@return table|nil job {label, id, status, path}, or nil when nothing was sent
function M.generate(prompt, buf, first, last)
  buf = (buf == nil or buf == 0) and vim.api.nvim_get_current_buf() or buf
  local ok, lib = pcall(M.library)
  if not ok then
    say(tostring(lib), levels.ERROR)
    return nil
  end
  local params = vim.deepcopy(M.config.params or {})
  params.model, params.prompt = M.config.model, prompt
  -- The buffer is the lyrics of a model that takes lyrics; the others (stable-audio,
  -- google/lyria2, ...) would refuse the field: they get the prompt alone.
  local model = lib.models[params.model]
  local takes_lyrics = not model or model_has(model, "lyrics")
  if takes_lyrics then
    local lines = vim.api.nvim_buf_get_lines(buf, first and first - 1 or 0, last or -1, false)
    params.lyrics = table.concat(lines, "\n")
  end
  local valid, verr = lib.validate(params)
  if not valid then
    say(describe(verr), levels.ERROR)
    return nil
  end
  -- The track's extension: the format asked for, else the model's own (wav for stable-audio).
  local ext = (params.audio_setting or {}).format or (model and model.format) or "mp3"
  local path = paths.for_buffer(buf, ext, M.config.output_dir, reserved)
  local label = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(buf), ":t")
  return start_job(params, path, label ~= "" and label or "[No Name]",
    not takes_lyrics and (params.model .. " takes no lyrics: the prompt alone is sent") or nil)
end

--- The jobs of this session, oldest first.
---@return table[]
function M.jobs()
  return jobs
end

--- The journal's unfinished jobs (of this session and earlier ones), without loading the
-- network code.
---@return table[] {id, model, output, time} each
function M.pending()
  local jpath = M.journal_path()
  if not jpath or not uv.fs_stat(jpath) then return {} end
  need_core() -- the journal's reads are the core's
  return require("aimlmusic.journal").pending(jpath)
end

--- Shows the jobs of this session and the journal's unfinished ones in one message.
function M.status()
  local lines = {}
  for i, job in ipairs(jobs) do
    lines[#lines + 1] = ("#%d %s: %s%s -> %s"):format(i, job.label, job.status,
      job.id and " (" .. job.id .. ")" or "", job.path)
  end
  local mine = {}
  for _, job in ipairs(jobs) do
    if job.id then mine[job.id] = true end
  end
  for _, p in ipairs(M.pending()) do
    if not mine[p.id] then
      lines[#lines + 1] = ("unfinished from an earlier session: %s -> %s (:AimlMusic resume)"):format(
        p.id, p.output or "no output")
    end
  end
  if #lines == 0 then lines[1] = "no jobs" end
  say(table.concat(lines, "\n"))
end

--- Cancels a running job of this session: by number (#N), by id, or the last one started.
-- The journal forgets it, so it is not offered for resume.
---@param which? string
---@return boolean cancelled
function M.cancel(which)
  local target
  for i = #jobs, 1, -1 do
    local job = jobs[i]
    if cancellable(job) and (not which or which == "" or which == "#" .. i or which == tostring(i) or which == job.id) then
      target = job
      break
    end
  end
  if not target then
    say(which and which ~= "" and ("no running job " .. which) or "no running job", levels.WARN)
    return false
  end
  if target.path then reserved[target.path] = nil end -- (a resumed job without output has none)
  target.status = "cancelled"
  if not target.task then
    -- Still waiting for the key (api_key_cmd): nothing was sent, and nothing will be.
    target.cancelled = true
    target.note:update_now("cancelled before anything was sent", levels.WARN, true)
    return true
  end
  target.task:cancel()
  if target.id and client then
    -- Out of the journal, and its output's reservation let go (no .lock left beside it): file
    -- work, done in a task on the library's workers, not on the editor's thread.
    local c, id = client, target.id
    music.spawn(function() require("aimlmusic.journal").mark_done(c, id) end)
    target.note:update_now("cancelled", levels.WARN, true)
  else
    -- Its POST may have made a paid job: the library lets the submit finish and records the job,
    -- which :AimlMusic resume then finishes.
    target.note:update_now("cancelled while submitting: if the job was made, :AimlMusic resume finishes it",
      levels.WARN, true)
  end
  return true
end

--- Waits for and downloads the journal's unfinished jobs (left by an earlier session that
-- ended or was killed mid-job), without submitting them again; one notification per job.
---@return boolean|nil started
function M.resume()
  for _, job in ipairs(jobs) do
    if running(job) then
      say("jobs are running in this session: resume once they are done", levels.WARN)
      return nil
    end
  end
  local pending = M.pending()
  if #pending == 0 then
    say("nothing to resume")
    return nil
  end
  local by_id = {}
  for _, p in ipairs(pending) do
    local job = { label = vim.fn.fnamemodify(p.output or p.id, ":t"), id = p.id, path = p.output,
      status = "resuming", started = uv.now() / 1000, waiting = true }
    job.note = notify.new(("#%d %s"):format(#jobs + 1, job.label))
    jobs[#jobs + 1] = job
    by_id[p.id] = job
    job.note:update_now("resuming " .. p.id)
  end
  -- One task per job: :AimlMusic cancel #N stops that one alone.
  local function run(c, job)
    local r = c:resume({
      id = job.id,
      on_status = function(st)
        job.status = st.status
        job.note:update(st.status)
      end,
      on_progress = function(done, total)
        if total and total > 0 then
          job.status = "downloading"
          job.note:update(("downloading %d%%"):format(math.floor(done * 100 / total)))
        end
      end,
    })[1]
    if not r then
      job.status = "done"
      job.note:update("done elsewhere", levels.INFO, true) -- another editor finished it meanwhile
    elseif r.err then
      job.status = "failed"
      job.note:update("failed: " .. describe(r.err) .. forget_refused(c, r.err), levels.ERROR, true)
    else
      job.status = "saved"
      if r.path then last_track = r.path end
      job.note:update(r.path and "saved " .. r.path or "done", levels.INFO, true)
    end
    return r
  end
  M.with_client(function(c, err)
    if not c then
      for _, job in pairs(by_id) do
        job.waiting = nil
        if not job.cancelled then
          job.status = "failed"
          job.note:update_now("failed: " .. describe(err), levels.ERROR, true)
        end
      end
      return
    end
    for _, job in pairs(by_id) do
      job.waiting = nil
      if not job.cancelled then job.task = music.spawn(run, c, job) end
    end
  end)
  return true
end

--- Lists the models (the one in use marked), or with a name, uses that model from now on.
---@param name? string
function M.models(name)
  local lib = M.library()
  if name and name ~= "" then
    if not lib.models[name] then
      say("unknown model " .. name, levels.ERROR)
      return
    end
    M.config.model = name
    say("model " .. name)
    return
  end
  local lines = {}
  for _, n in ipairs(M.model_names()) do
    local fields = {}
    for _, f in ipairs(lib.models[n].fields) do fields[#fields + 1] = f.name end
    lines[#lines + 1] = ("%s %s  (%s)"):format(n == M.config.model and "*" or " ", n, table.concat(fields, ", "))
  end
  say("models:\n" .. table.concat(lines, "\n"))
end

--- The model names, sorted.
---@return string[]
function M.model_names()
  local names = {}
  for n in pairs(M.library().models) do names[#names + 1] = n end
  table.sort(names)
  return names
end

--- The command that plays a track: config.player (a list, or a string for the shell), else the
-- first of mpv, ffplay, paplay found.
---@return string[]|string|nil
function M.player()
  return command.player(M.config)
end

--- Plays path (default: the last track saved) with M.player(), without waiting for it.
---@param path? string
---@return integer|nil job id of the player
function M.play(path)
  path = (path and path ~= "") and vim.fn.expand(path) or last_track
  if not path then
    say("no track yet: :AimlMusic play FILE", levels.WARN)
    return nil
  end
  local player = M.player()
  if not player then
    say("no player found (mpv, ffplay or paplay); set player in setup{}", levels.WARN)
    return nil
  end
  if not uv.fs_stat(path) then
    say("no file " .. path, levels.ERROR)
    return nil
  end
  -- A list: the program and its arguments; a string: a command for the shell.
  local cmd, name
  if type(player) == "string" then
    cmd, name = player .. " " .. vim.fn.shellescape(path), player
  else
    cmd, name = vim.list_extend(vim.deepcopy(player), { path }), tostring(player[1])
  end
  local ok, id = pcall(vim.fn.jobstart, cmd, { detach = false, on_exit = function(_, code)
    if code ~= 0 then say(("%s could not play %s (exit %d)"):format(name, path, code), levels.ERROR) end
  end })
  if not ok or id <= 0 then
    say(("cannot start %s: %s"):format(name, ok and "jobstart returned " .. id or tostring(id):gsub("^Vim:", "")),
      levels.ERROR)
    return nil
  end
  say("playing " .. path)
  return id
end

--- Offers the journal's unfinished jobs of earlier sessions for resume (or resumes them,
-- with resume_on_start = "auto"). Called once the editor has started.
function M.offer_resume()
  local how = M.config.resume_on_start
  if not how then return end
  local ok, all = pcall(M.pending)
  if not ok then return end
  -- This session's jobs are in the journal too (the editor may have started with a command
  -- that made one): only the others are offered.
  local mine, pending = {}, {}
  for _, job in ipairs(jobs) do
    if job.id then mine[job.id] = true end
  end
  for _, p in ipairs(all) do
    if not mine[p.id] and not (p.output and reserved[p.output]) then pending[#pending + 1] = p end
  end
  if #pending == 0 then return end
  if how == "auto" then
    M.resume()
  else
    say(("%d unfinished job(s) from an earlier session: :AimlMusic resume finishes them without paying again")
      :format(#pending))
  end
end

--- Called on VimLeavePre: says what happens to jobs still in flight.
function M.on_leave()
  local n = 0
  for _, job in ipairs(jobs) do
    if running(job) then n = n + 1 end
  end
  if n == 0 then return end
  if M.journal_path() then
    say(("%d job(s) in flight: they are in the journal and will be offered for resume next time"):format(n),
      levels.WARN)
  else
    say(("%d job(s) in flight and no journal: their tracks will not be downloaded"):format(n), levels.WARN)
  end
end

--- Runs :AimlMusic {subcommand} [args] (cmd as nvim_create_user_command passes it). A core not
-- built is said as M.core_missing() says it, not as a traceback.
function M.command(cmd)
  local ok, err = pcall(command.run, M, cmd)
  if ok then return err end
  -- (a require of the core outside need_core, in the library's own modules)
  if tostring(err):find("module 'aimlmusic.core' not found", 1, true) then err = M.core_missing() end
  if err == M.core_missing() then return say(err, levels.ERROR) end
  error(err, 0)
end

--- Completion for :AimlMusic: subcommands, model names after models, job numbers after
-- cancel, files after play.
function M.complete(arglead, cmdline, _)
  return command.complete(M, arglead, cmdline)
end

--- The numbers (as "#n") of this session's jobs still running, for :AimlMusic cancel.
---@return string[]
function M.running_numbers()
  local list = {}
  for i, job in ipairs(jobs) do
    if cancellable(job) then list[#list + 1] = "#" .. i end
  end
  return list
end

return M
