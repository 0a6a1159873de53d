--- The `aimlmusic` command: generate, submit, status, wait, download, resume, models,
-- validate and mock, from a shell. `bin/aimlmusic` calls `main(arg)`; `aimlmusic --help` and
-- `aimlmusic SUBCOMMAND --help` say how each is used.
--
-- Exit codes: 0 done; 2 usage or validation; 3 auth or credits; 4 the job failed; 5 timed
-- out (the id is printed; `aimlmusic wait ID` goes on); 130 interrupted by Ctrl-C (the id is
-- printed; `aimlmusic resume` goes on); 1 anything else.
-- @module aimlmusic.cli

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local journal = require "aimlmusic.journal"
local json = require("cjson").new()
if json.encode_escape_forward_slash then json.encode_escape_forward_slash(false) end

local M = {}

--- Exit codes by outcome.
-- @table EXIT
M.EXIT = { ok = 0, other = 1, usage = 2, auth = 3, failed = 4, timeout = 5, interrupted = 130 }
local EXIT = M.EXIT

local KIND_EXIT = {
  validation = EXIT.usage, config = EXIT.usage,
  auth = EXIT.auth, credits = EXIT.auth,
  job_failed = EXIT.failed,
  timeout = EXIT.timeout,
}

local USAGE = [[
usage: aimlmusic COMMAND [options]

Generate music with the AI/ML API from a shell.

Commands:
  generate   submit a job, wait for it and download the track
  submit     submit a job; print its id on the last line
  status     one status request for a job id
  wait       wait for a job id to finish (and download it with -o)
  download   download a finished job's track
  resume     finish the journal's unfinished jobs (after Ctrl-C or a crash)
  models     list the models and their fields
  validate   check parameters against the model table, without any network
  mock       run the offline mock server

Every command takes --help. The key comes from AIMLAPI_KEY or --key-file FILE (never from
a flag: a command line is visible to every user of the machine); the base URL from
AIMLAPI_BASE_URL or --base-url.

Exit codes: 0 done, 2 usage or validation, 3 auth or credits, 4 the job failed,
5 timed out (the id is printed), 130 interrupted (the id is printed), 1 anything else.
]]

local PARAMS_HELP = [[
  -m, --model MODEL        the model (default minimax/music-2.0; see aimlmusic models)
  -p, --prompt TEXT        the prompt
  -l, --lyrics TEXT        the lyrics
  --lyrics-file FILE       the lyrics from FILE ("-": standard input)
  --set FIELD=VALUE        any field of the model, dotted for nested ones, typed by the
                           model table: --set audio_setting.format=wav (repeatable)
]]

local CLIENT_HELP = [[
  --key-file FILE          read the API key from FILE (default: AIMLAPI_KEY)
  --base-url URL           the API (default: AIMLAPI_BASE_URL, then https://api.aimlapi.com)
  --interval S             seconds between status polls (5)
  --journal PATH           the job journal (default $XDG_STATE_HOME/aimlmusic/jobs.journal,
                           else ~/.local/state/aimlmusic/jobs.journal)
  --no-journal             keep no journal
  --json                   print exactly one JSON object on stdout
  -h, --help               this text
]]

local HELP = {
  generate = "usage: aimlmusic generate -p PROMPT [-l LYRICS | --lyrics-file FILE] -o OUT [options]\n\n"
    .. "Submits a job, waits for it (a status line on stderr) and downloads the track to OUT\n"
    .. "(a progress bar when stderr is a terminal). Ctrl-C prints the job id; aimlmusic resume\n"
    .. "finishes it without paying again.\n\n" .. PARAMS_HELP
    .. "  -o, --output OUT         where the track goes (required)\n"
    .. "  --overwrite              replace OUT if it exists\n"
    .. "  --timeout S              stop waiting after S seconds (900); the job goes on\n" .. CLIENT_HELP,
  submit = "usage: aimlmusic submit -p PROMPT [-l LYRICS | --lyrics-file FILE] [-o OUT] [options]\n\n"
    .. "Submits a job and prints its id on the last line of stdout. With -o, the journal\n"
    .. "remembers OUT and aimlmusic resume downloads the track there.\n\n" .. PARAMS_HELP
    .. "  -o, --output OUT         where aimlmusic resume puts the track (checked before submitting)\n"
    .. "  --overwrite              replace OUT if it exists\n" .. CLIENT_HELP,
  status = "usage: aimlmusic status ID [options]\n\nOne status request for a job.\n\n" .. CLIENT_HELP,
  wait = "usage: aimlmusic wait ID [-o OUT] [options]\n\n"
    .. "Waits for a job to finish; with -o, downloads its track to OUT.\n\n"
    .. "  -o, --output OUT         where the track goes\n"
    .. "  --overwrite              replace OUT if it exists\n"
    .. "  --timeout S              stop waiting after S seconds (900)\n" .. CLIENT_HELP,
  download = "usage: aimlmusic download ID -o OUT [options]\n\nDownloads a finished job's track to OUT.\n\n"
    .. "  -o, --output OUT         where the track goes (required)\n"
    .. "  --overwrite              replace OUT if it exists\n" .. CLIENT_HELP,
  resume = "usage: aimlmusic resume [options]\n\n"
    .. "Waits for and downloads every unfinished job of the journal, without submitting again.\n"
    .. "A file already at a job's output is kept, and the job stays unfinished, unless its size\n"
    .. "is the job's.\n\n"
    .. "  --overwrite              replace such a file with the job's track\n"
    .. "  --timeout S              stop waiting for a job after S seconds (900)\n" .. CLIENT_HELP,
  models = "usage: aimlmusic models [--json]\n\nLists the models and their fields.\n\n"
    .. "  --json                   print exactly one JSON object on stdout\n"
    .. "  -h, --help               this text\n",
  validate = "usage: aimlmusic validate -p PROMPT [-l LYRICS | --lyrics-file FILE] [options]\n\n"
    .. "Checks parameters against the model table, without any network: exit 0 when valid,\n"
    .. "2 with every problem listed otherwise.\n\n" .. PARAMS_HELP
    .. "  --json                   print exactly one JSON object on stdout\n"
    .. "  -h, --help               this text\n",
  mock = "usage: aimlmusic mock [--port P] [--duration S] [aimlmusic-mock options]\n\n"
    .. "Runs the offline mock server on loopback (see aimlmusic-mock --help); point\n"
    .. "AIMLAPI_BASE_URL at the URL it prints and use AIMLAPI_KEY=test-key.\n",
}

-- Options: name -> true (a flag) or "value". Short names map to long ones.
local SHORT = { m = "model", p = "prompt", l = "lyrics", o = "output", h = "help" }
local OPTIONS = {
  model = "value", prompt = "value", lyrics = "value", ["lyrics-file"] = "value", set = "list",
  output = "value", overwrite = true, timeout = "value", interval = "value",
  ["key-file"] = "value", ["base-url"] = "value", journal = "value", ["no-journal"] = true,
  json = true, help = true,
}
local ALLOWED = {
  generate = { "model", "prompt", "lyrics", "lyrics-file", "set", "output", "overwrite", "timeout" },
  submit = { "model", "prompt", "lyrics", "lyrics-file", "set", "output", "overwrite" },
  status = {},
  wait = { "output", "overwrite", "timeout" },
  download = { "output", "overwrite" },
  resume = { "timeout", "overwrite" },
  models = { "json" },
  validate = { "model", "prompt", "lyrics", "lyrics-file", "set", "json" },
}
local CLIENT_OPTS = { "interval", "key-file", "base-url", "journal", "no-journal", "json" }
local NEEDS_CLIENT = { generate = true, submit = true, status = true, wait = true, download = true, resume = true }

local function usage_error(msg)
  return { kind = "usage", message = msg }
end

-- Parses argv (after the command) into opts and positional arguments.
local function parse(cmd, argv)
  local allowed = { help = true }
  for _, k in ipairs(ALLOWED[cmd]) do allowed[k] = true end
  if NEEDS_CLIENT[cmd] then
    for _, k in ipairs(CLIENT_OPTS) do allowed[k] = true end
  end
  local opts, rest = { set = {} }, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local name, inline
    if a == "--" then
      for j = i + 1, #argv do rest[#rest + 1] = argv[j] end
      break
    elseif a:match("^%-%-") then
      name, inline = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
    elseif a:match("^%-%a") then
      name = SHORT[a:sub(2, 2)]
      if not name then return nil, usage_error("unknown option " .. a) end
      if #a > 2 then inline = a:sub(3) end
    end
    if name then
      if name == "key" or name == "api-key" then
        return nil, usage_error("--" .. name .. " is not accepted: a command line is visible to every user of "
          .. "the machine; set AIMLAPI_KEY or use --key-file FILE")
      end
      local kind = OPTIONS[name]
      if not kind or not allowed[name] then
        return nil, usage_error(("unknown option --%s for aimlmusic %s (see aimlmusic %s --help)"):format(name, cmd, cmd))
      end
      if kind == true then
        if inline then return nil, usage_error("--" .. name .. " takes no value") end
        opts[name] = true
      else
        local v = inline
        if v == nil then
          i = i + 1
          v = argv[i]
        end
        if v == nil then return nil, usage_error("--" .. name .. " needs a value") end
        if kind == "list" then opts[name][#opts[name] + 1] = v else opts[name] = v end
      end
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  for _, k in ipairs({ "timeout", "interval" }) do
    if opts[k] then
      local n = tonumber(opts[k])
      if not n or n < 0 then return nil, usage_error("--" .. k .. " needs a non-negative number of seconds") end
      opts[k] = n
    end
  end
  return opts, rest
end

-- The fields of a model (or of an object field), by name and by alias.
local function find_field(fields, name)
  for _, f in ipairs(fields or {}) do
    if f.name == name or f.alias == name then return f end
  end
end

local function field_names(fields)
  local names = {}
  for _, f in ipairs(fields or {}) do names[#names + 1] = f.name end
  return table.concat(names, ", ")
end

local BOOLEAN = { ["true"] = true, yes = true, on = true, ["1"] = true,
  ["false"] = false, no = false, off = false, ["0"] = false }

--- Converts the text of a --set value to the type the model table gives the field.
---@param field table a field of the model table (name, type, fields)
---@param text string the text after `=`
---@return any|nil value
---@return string|nil err
function M.typed(field, text)
  local t = field.type
  if t == "integer" then
    local n = tonumber(text)
    if not n or n ~= math.floor(n) then return nil, field.name .. " needs an integer, got " .. text end
    return n
  elseif t == "number" then
    local n = tonumber(text)
    if not n then return nil, field.name .. " needs a number, got " .. text end
    return n
  elseif t == "boolean" then
    local b = BOOLEAN[text:lower()]
    if b == nil then return nil, field.name .. " needs true or false, got " .. text end
    return b
  elseif t == "object" or t == "array" then
    local ok, v = pcall(json.decode, text)
    if not ok or type(v) ~= "table" then
      return nil, ("%s is an object: set its fields (--set %s.FIELD=VALUE) or give JSON"):format(field.name, field.name)
    end
    return v
  end
  return text -- strings, and types this command does not know yet, go as written
end

--- Sets `--set FIELD=VALUE` on params, typed by the model table (dotted for nested fields).
---@param params table the request being built (params.model names the model)
---@param assignment string `FIELD=VALUE`
---@return true|nil ok
---@return string|nil err
function M.apply_set(params, assignment)
  local path, text = assignment:match("^([^=]+)=(.*)$")
  if not path then return nil, "--set needs FIELD=VALUE, got " .. assignment end
  local model = music.models[params.model]
  if not model then return nil, "unknown model " .. tostring(params.model) .. " (see aimlmusic models)" end
  local fields, target, where = model.fields, params, params.model
  local parts = {}
  for p in path:gmatch("[^.]+") do parts[#parts + 1] = p end
  for i, name in ipairs(parts) do
    local f = find_field(fields, name)
    if not f then
      return nil, ("%s has no field %s (fields: %s)"):format(where, name, field_names(fields))
    end
    if i == #parts then
      local v, err = M.typed(f, text)
      if v == nil then return nil, err end
      target[f.name] = v
    else
      if f.type ~= "object" then return nil, f.name .. " is not an object" end
      if type(target[f.name]) ~= "table" then target[f.name] = {} end
      target, fields, where = target[f.name], f.fields, f.name
    end
  end
  return true
end

local function read_all(path)
  if path == "-" then return io.stdin:read("*a") end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end

-- The request from the options: model, prompt, lyrics, then every --set in order.
local function build_params(opts)
  local params = { model = opts.model or "minimax/music-2.0", prompt = opts.prompt, lyrics = opts.lyrics }
  if opts["lyrics-file"] then
    if opts.lyrics then return nil, usage_error("give -l or --lyrics-file, not both") end
    local s, err = read_all(opts["lyrics-file"])
    if not s then return nil, usage_error("cannot read lyrics: " .. tostring(err)) end
    params.lyrics = (s:gsub("\r?\n$", ""))
  end
  for _, a in ipairs(opts.set) do
    local ok, err = M.apply_set(params, a)
    if not ok then return nil, usage_error(err) end
  end
  return params
end

--- The default journal: $XDG_STATE_HOME/aimlmusic/jobs.journal, else
-- ~/.local/state/aimlmusic/jobs.journal.
---@return string|nil path nil when neither XDG_STATE_HOME nor HOME is set
function M.default_journal()
  local state = os.getenv("XDG_STATE_HOME")
  if not state or state == "" then
    local home = os.getenv("HOME")
    if not home or home == "" then return nil end
    state = home .. "/.local/state"
  end
  return state .. "/aimlmusic/jobs.journal"
end

-- mkdir -p of path's directory.
local function make_parent(path)
  local dir = path:match("^(.*)[/\\][^/\\]*$")
  if not dir or dir == "" then return true end
  local sofar = dir:sub(1, 1) == "/" and "" or "."
  for part in dir:gmatch("[^/\\]+") do
    sofar = sofar .. "/" .. part
    local ok, err = core.mkdir(sofar)
    if not ok then return nil, err end
  end
  return true
end

local function journal_path(opts)
  if opts["no-journal"] then return nil end
  local path = opts.journal or M.default_journal()
  if path then
    local ok, err = make_parent(path)
    if not ok then return nil, { kind = "io", message = "cannot create the journal's directory: " .. err } end
  end
  return path
end

local function make_client(opts)
  local key
  if opts["key-file"] then
    local s, err = read_all(opts["key-file"])
    if not s then return nil, usage_error("cannot read the key file: " .. tostring(err)) end
    key = s:match("^%s*(.-)%s*$")
  end
  local jpath, jerr = journal_path(opts)
  if jerr then return nil, jerr end
  local client, err = music.new {
    api_key = key, base_url = opts["base-url"], poll_interval = opts.interval, journal = jpath,
  }
  if not client then return nil, err end
  return client, jpath
end

-- -------------------------------------------------------------------------
-- Output: stdout carries the result (one JSON object with --json); stderr carries progress.

local Out = {}
Out.__index = Out

local function new_out(opts)
  return setmetatable({ json = opts.json, tty = core.isatty(2), line = false }, Out)
end

-- Replaces the terminal's status line (a terminal only).
function Out:status_line(s)
  if not self.tty or (self.line and s == self.shown) then return end
  io.stderr:write("\r\27[K", s)
  io.stderr:flush()
  self.line, self.shown = true, s
end

-- A line on stderr, after clearing a status line.
function Out:note(s)
  if self.line then
    io.stderr:write("\r\27[K")
    self.line = false
  end
  io.stderr:write(s, "\n")
  io.stderr:flush()
end

local function human_bytes(n)
  if n >= 1048576 then return ("%.1f MiB"):format(n / 1048576) end
  if n >= 1024 then return ("%.1f KiB"):format(n / 1024) end
  return ("%d B"):format(math.floor(n)) -- a rate is not a whole number
end

local function clock(s)
  s = math.floor(s + 0.5)
  return ("%d:%02d"):format(math.floor(s / 60), s % 60)
end

-- A progress bar: bytes, rate, time left.
function Out:bar(done, total, elapsed)
  if not self.tty then return end
  local rate = elapsed > 0 and done / elapsed or 0
  local width = 24
  local s
  if total and total > 0 then
    local filled = math.floor(width * math.min(done, total) / total)
    local left = rate > 0 and (total - done) / rate or 0
    s = ("downloading [%s%s] %3d%% %s / %s %s/s %s left"):format(("#"):rep(filled), ("."):rep(width - filled),
      math.floor(100 * done / total), human_bytes(done), human_bytes(total), human_bytes(rate), clock(left))
  else
    s = ("downloading %s %s/s"):format(human_bytes(done), human_bytes(rate))
  end
  self:status_line(s)
end

-- st without raw (and nothing that is not plain data).
local function plain(t, depth)
  depth = depth or 0
  local out = {}
  for k, v in pairs(t) do
    if k ~= "raw" and k ~= "st" and (type(k) == "string" or type(k) == "number") then
      if type(v) == "table" and depth < 4 then
        out[k] = plain(v, depth + 1)
      elseif type(v) == "string" or type(v) == "number" or type(v) == "boolean" then
        out[k] = v
      end
    end
  end
  return out
end

local function print_json(t)
  io.stdout:write(json.encode(t), "\n")
end

local function describe_error(err)
  local lines = { type(err) == "table" and err.kind == "usage" and "aimlmusic: " .. err.message or tostring(err) }
  if type(err) == "table" then
    for _, f in ipairs(err.fields or {}) do
      local line = ("%s: %s"):format(tostring(f.field), tostring(f.message))
      if not lines[1]:find(line, 1, true) then lines[#lines + 1] = "  " .. line end
    end
  end
  return table.concat(lines, "\n")
end

-- Reports err (stderr, or one JSON object) and returns its exit code.
local function fail(out, err, hint)
  local code = KIND_EXIT[err.kind] or (err.kind == "usage" and EXIT.usage) or EXIT.other
  if out.json then
    local e = plain(err)
    if e.kind == "usage" then e.kind = "validation" end
    if hint then e.hint = hint end
    print_json({ error = e })
  end
  out:note(describe_error(err))
  if hint then out:note(hint) end
  return code
end

-- -------------------------------------------------------------------------
-- Running a task to its end, with Ctrl-C turned into a clean stop.

-- Drives fn as a task until it returns; `state.phase` says what it is doing. Ctrl-C while
-- it submits is held until the job exists (so it is in the journal); otherwise the task is
-- cancelled at once (a download leaves no file) and "interrupted" is returned.
local function drive(fn, state, tick)
  local t = music.spawn(fn)
  local seen = 0
  while not t:done() do
    music.step(100)
    local n = core.sigint_count()
    if n > seen then
      if state.phase ~= "submit" or n - seen >= 2 then
        if not t:done() then t:cancel() end
        return "interrupted"
      end
    end
    if tick then tick() end
  end
  local a, b = t:result()
  if a == nil and type(b) ~= "table" then
    b = { kind = "other", message = "aimlmusic: " .. tostring(b) } -- a raise inside the task
  end
  return a, b
end

local now = require("aimlmusic.task").now -- seconds, monotonic

local function status_text(st)
  return st.status .. (st.id and " " .. st.id or "")
end

-- Follows a job on stderr: plain lines when changes happen, a live line on a terminal.
local function follower(out, state)
  local started, last = now(), nil
  local function on_status(st)
    state.id = st.id or state.id
    state.phase = "wait"
    if st.status ~= last then
      last = st.status
      if not out.tty then out:note(status_text(st)) end
    end
  end
  local function on_progress(done, total)
    state.phase = "download"
    state.done, state.total = done, total
    out:bar(done, total, now() - (state.download_started or now()))
  end
  local function tick()
    if state.phase == "wait" and out.tty then
      out:status_line(("%s · %ds · %s"):format(last or "submitted", math.floor(now() - started), state.id or ""))
    end
  end
  return on_status, on_progress, tick
end

local function interrupted(out, state, resumable)
  local msg = state.id and ("interrupted: job %s is kept%s"):format(state.id,
    resumable and "; aimlmusic resume finishes it" or "; aimlmusic wait " .. state.id .. " goes on")
    or "interrupted before a job was submitted"
  if out.json then print_json({ error = { kind = "interrupted", message = msg, id = state.id } }) end
  out:note(msg)
  if state.id and not out.json then io.stdout:write(state.id, "\n") end
  return EXIT.interrupted
end

local function report_done(out, st, path, bytes)
  if out.json then
    local o = plain(st)
    o.path, o.bytes = path or st.path, bytes or st.bytes
    print_json(o)
  else
    if path or st.path then
      out:note(("saved %s (%s)"):format(path or st.path, human_bytes(bytes or st.bytes or 0)))
      io.stdout:write(path or st.path, "\n")
    else
      io.stdout:write(status_text(st), "\n")
    end
  end
  return EXIT.ok
end

-- -------------------------------------------------------------------------
-- The commands.

local commands = {}

function commands.models(opts)
  local names = {}
  for name in pairs(music.models) do names[#names + 1] = name end
  table.sort(names)
  if opts.json then
    local o = {}
    for _, name in ipairs(names) do o[name] = plain(music.models[name]) end
    print_json({ models = o })
    return EXIT.ok
  end
  local function show(fields, indent)
    for _, f in ipairs(fields or {}) do
      local extra = {}
      if f.required then extra[#extra + 1] = "required" end
      if f.required_unless then
        extra[#extra + 1] = "required unless " .. table.concat(f.required_unless, " or ") .. " is true"
      end
      if f.min_length or f.max_length then
        extra[#extra + 1] = ("%s–%s characters"):format(f.min_length or 0, f.max_length or "")
      end
      if f.min or f.max then extra[#extra + 1] = ("%s–%s"):format(f.min or "", f.max or "") end
      if f.format == "url" then extra[#extra + 1] = "an http(s) URL" end
      if f.transform == "data_uri" then extra[#extra + 1] = "a URL, data: URI or local audio file" end
      if f.enum then
        local e = {}
        for _, v in ipairs(f.enum) do e[#e + 1] = tostring(v) end
        extra[#extra + 1] = "one of " .. table.concat(e, "/")
      end
      if f.default ~= nil then extra[#extra + 1] = "default " .. tostring(f.default) end
      if f.alias then extra[#extra + 1] = "alias " .. f.alias end
      io.stdout:write(("%s%-20s %-8s %s\n"):format(indent, f.name, f.type or "", table.concat(extra, ", ")))
      if f.fields then show(f.fields, indent .. "  ") end
    end
  end
  for _, name in ipairs(names) do
    io.stdout:write(name, "\n")
    show(music.models[name].fields, "  ")
  end
  return EXIT.ok
end

function commands.validate(opts, _, out)
  local params, err = build_params(opts)
  if not params then return fail(out, err) end
  local ok
  ok, err = music.validate(params)
  if not ok then return fail(out, err) end
  if out.json then print_json({ valid = true, model = params.model }) else io.stdout:write("valid\n") end
  return EXIT.ok
end

local function checked_params(opts, out)
  local params, err = build_params(opts)
  if not params then return nil, fail(out, err) end
  local ok
  ok, err = music.validate(params)
  if not ok then return nil, fail(out, err) end
  return params
end

function commands.generate(opts, _, out)
  if not opts.output then return fail(out, usage_error("generate needs -o OUT")) end
  local params, code = checked_params(opts, out)
  if not params then return code end
  local f = not opts.overwrite and io.open(opts.output, "rb")
  if f then
    f:close()
    return fail(out, usage_error(opts.output .. " exists: pass --overwrite to replace it"))
  end
  local client, err = make_client(opts)
  if not client then return fail(out, err) end
  local state = { phase = "submit" }
  local on_status, on_progress, tick = follower(out, state)
  local status_cb = function(st)
    if st.status == "completed" then state.download_started = now() end
    on_status(st)
  end
  if not out.tty then out:note("submitting to " .. params.model) end
  local st, gerr = drive(function()
    return client:generate(params, {
      output = opts.output, overwrite = opts.overwrite, timeout = opts.timeout,
      on_status = status_cb, on_progress = on_progress,
    })
  end, state, tick)
  if st == "interrupted" then return interrupted(out, state, client.journal ~= nil) end
  if not st then
    state.id = state.id or gerr.id
    local hint
    if gerr.kind == "timeout" and gerr.id then
      hint = ("job %s goes on: aimlmusic wait %s -o %s"):format(gerr.id, gerr.id, opts.output)
    elseif gerr.id and gerr.kind ~= "job_failed" then
      hint = ("job %s is kept: aimlmusic download %s -o %s"):format(gerr.id, gerr.id, opts.output)
    end
    local c = fail(out, gerr, hint)
    if gerr.id and not out.json then io.stdout:write(gerr.id, "\n") end
    return c
  end
  if state.total then
    out:bar(st.bytes or state.done or 0, st.bytes or state.total, now() - (state.download_started or now()))
  end
  return report_done(out, st)
end

function commands.submit(opts, _, out)
  local params, code = checked_params(opts, out)
  if not params then return code end
  local client, err = make_client(opts)
  if not client then return fail(out, err) end
  local state = { phase = "submit" }
  local job, serr = drive(function()
    return client:submit(params, { output = opts.output, overwrite = opts.overwrite })
  end, state)
  if job == "interrupted" then return interrupted(out, state, true) end
  if not job then return fail(out, serr) end
  if out.json then
    print_json(plain(job))
  else
    out:note(("submitted to %s: %s"):format(job.model or params.model, job.status or "queued"))
    io.stdout:write(job.id, "\n")
  end
  return EXIT.ok
end

local function one_id(cmd, rest, out)
  if #rest ~= 1 then return nil, fail(out, usage_error(cmd .. " needs one job ID")) end
  return rest[1]
end

-- The commands that name a job by id keep no journal of their own; a download that
-- delivers a journaled job marks it delivered there.
local function id_client(opts)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o["no-journal"] = true
  local client, err = make_client(o)
  return client, err, journal_path(opts)
end

local function mark_delivered(jpath, id, info)
  if not jpath then return end
  for _, j in ipairs(journal.pending(jpath)) do
    if j.id == id then
      journal.delivered(jpath, id, info)
      return
    end
  end
end

function commands.status(opts, rest, out)
  local id, code = one_id("status", rest, out)
  if not id then return code end
  local client, err = id_client(opts)
  if not client then return fail(out, err) end
  local st, serr = drive(function() return client:status(id) end, { phase = "wait" })
  if st == "interrupted" then return EXIT.interrupted end
  if not st then return fail(out, serr) end
  if out.json then
    print_json(plain(st))
  else
    local lines = { "id       " .. tostring(st.id or id), "status   " .. tostring(st.status) }
    if st.url then lines[#lines + 1] = "url      " .. st.url end
    if st.duration_ms then lines[#lines + 1] = ("duration %.1f s"):format(st.duration_ms / 1000) end
    if st.error then
      lines[#lines + 1] = ("error    %s: %s"):format(tostring(st.error.name), tostring(st.error.message))
    end
    io.stdout:write(table.concat(lines, "\n"), "\n")
  end
  return st.status == "error" and EXIT.failed or EXIT.ok
end

local function wait_and_fetch(cmd, opts, rest, out)
  local id, code = one_id(cmd, rest, out)
  if not id then return code end
  if cmd == "download" and not opts.output then return fail(out, usage_error("download needs -o OUT")) end
  local client, err, jpath = id_client(opts)
  if not client then return fail(out, err) end
  local state = { phase = "wait", id = id }
  local on_status, on_progress, tick = follower(out, state)
  local st, werr = drive(function()
    local s, e
    if cmd == "wait" then
      s, e = client:wait(id, { timeout = opts.timeout, on_status = on_status })
    else
      s, e = client:status(id)
      if s and s.status ~= "completed" then
        e = s.status == "error" and { kind = "job_failed", message = "the job failed", id = id }
          or { kind = "other", message = ("job %s is %s, not completed: aimlmusic wait %s goes on"):format(
            id, tostring(s.status), id) }
        s = nil
      end
    end
    if not s or not opts.output then return s, e end
    state.phase, state.download_started = "download", now()
    local info
    info, e = client:download(s, opts.output, { overwrite = opts.overwrite, on_progress = on_progress })
    if not info then return nil, e end
    s.path, s.bytes = info.path, info.bytes
    return s
  end, state, tick)
  if st == "interrupted" then return interrupted(out, state, false) end
  if not st then
    local c = fail(out, werr)
    if werr.kind == "timeout" and not out.json then io.stdout:write(id, "\n") end
    return c
  end
  if st.path then
    mark_delivered(jpath, id, { path = st.path, bytes = st.bytes })
    if state.total then out:bar(st.bytes, st.bytes, now() - state.download_started) end
  end
  return report_done(out, st)
end

function commands.wait(opts, rest, out)
  return wait_and_fetch("wait", opts, rest, out)
end

function commands.download(opts, rest, out)
  return wait_and_fetch("download", opts, rest, out)
end

function commands.resume(opts, _, out)
  if opts["no-journal"] then return fail(out, usage_error("resume reads the journal: drop --no-journal")) end
  local client, err = make_client(opts)
  if not client then return fail(out, err) end
  local pending = client:pending()
  if #pending == 0 then
    if out.json then print_json({ jobs = {} }) else out:note("nothing to resume in " .. client.journal) end
    return EXIT.ok
  end
  local state = { phase = "wait" }
  local on_status, on_progress, tick = follower(out, state)
  if not out.tty then out:note(("resuming %d job(s) from %s"):format(#pending, client.journal)) end
  local results = drive(function()
    return client:resume({ timeout = opts.timeout, overwrite = opts.overwrite, on_status = on_status,
                           on_progress = on_progress })
  end, state, tick)
  if results == "interrupted" then return interrupted(out, state, true) end
  local code, jobs = EXIT.ok, {}
  for _, r in ipairs(results or {}) do
    local o = { id = r.id, path = r.path, status = r.st and r.st.status }
    if r.err then
      o.error = plain(r.err)
      if code == EXIT.ok then code = KIND_EXIT[r.err.kind] or EXIT.other end
      out:note(("%s: %s"):format(r.id, tostring(r.err)))
    else
      out:note(("%s: %s"):format(r.id, r.path and "saved " .. r.path or (o.status or "done")))
    end
    jobs[#jobs + 1] = o
  end
  if out.json then
    print_json({ jobs = jobs })
  else
    for _, o in ipairs(jobs) do
      if o.path then io.stdout:write(o.path, "\n") end
    end
  end
  return code
end

function commands.mock(_, _, _, argv)
  local mock = require "aimlmusic.mock"
  return mock.main(argv)
end

-- -------------------------------------------------------------------------

--- Runs the command line.
---@param argv string[] the arguments (`arg` of the script)
---@return integer code the exit code
function M.main(argv)
  local cmd = argv[1]
  if cmd == nil or cmd == "-h" or cmd == "--help" or cmd == "help" then
    io.stdout:write(USAGE)
    return cmd == nil and EXIT.usage or EXIT.ok
  end
  if cmd == "--version" then
    io.stdout:write(music._VERSION, "\n")
    return EXIT.ok
  end
  if not commands[cmd] then
    io.stderr:write("aimlmusic: unknown command ", cmd, " (see aimlmusic --help)\n")
    return EXIT.usage
  end
  local args = {}
  for i = 2, #argv do args[#args + 1] = argv[i] end
  if cmd == "mock" then
    for _, a in ipairs(args) do
      if a == "-h" or a == "--help" then
        io.stdout:write(HELP.mock)
        return EXIT.ok
      end
    end
    return commands.mock(nil, nil, nil, args)
  end
  local opts, rest = parse(cmd, args)
  local out = new_out(opts or {})
  if not opts then
    io.stderr:write(describe_error(rest), "\n")
    return EXIT.usage
  end
  if opts.help then
    io.stdout:write(HELP[cmd])
    return EXIT.ok
  end
  if #rest > 0 and cmd ~= "status" and cmd ~= "wait" and cmd ~= "download" then
    return fail(out, usage_error("unexpected argument " .. rest[1]))
  end
  core.sigint_catch()
  return commands[cmd](opts, rest, out)
end

return M
