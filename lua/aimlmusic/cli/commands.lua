-- The commands of `aimlmusic`, one function each: commands[name](opts, rest, out) returns
-- the exit code. Each runs its client calls in a task driven to its end, with Ctrl-C turned
-- into a clean stop.

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local args = require "aimlmusic.cli.args"
local client_for = require "aimlmusic.cli.client"
local output = require "aimlmusic.cli.output"

local now = require("aimlmusic.task").now -- seconds, monotonic
local EXIT, KIND_EXIT = output.EXIT, output.KIND_EXIT
local usage_error, build_params = args.usage_error, args.build_params
local fail, plain, print_json, follower = output.fail, output.plain, output.print_json, output.follower
local stdout = output.stdout
local interrupted, report_done, text = output.interrupted, output.report_done, output.text

-- Drives fn as a task until it returns; `state.phase` says what it is doing. Ctrl-C while
-- it submits is held until the job exists (so it is in the journal), and a second one stops
-- there; otherwise the task is cancelled at once (a download leaves no file) and
-- "interrupted" is returned. tick() runs before the first step and after each (10 a second).
local function drive(fn, state, tick, out)
  local t = music.spawn(fn)
  local seen, held = 0, false
  if tick then tick() end
  while not t:done() do
    music.step(100)
    local n = core.sigint_count()
    if n > seen then
      if state.phase ~= "submit" or n - seen >= 2 then
        if not t:done() then t:cancel() end
        -- A cancelled download's partial file goes before the process does. A submit whose
        -- POST is out holds the cancel until its answer: a second Ctrl-C quits now all the
        -- same, saying the job may exist.
        if t:done() then
          while music.step(100) > 0 do end
        end
        return "interrupted"
      elseif not held and out then
        held = true
        out:note("Ctrl-C: waiting for the submit's answer, so that the job is not lost (Ctrl-C again quits now)")
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

local commands = {}

-- A submit that failed so may still have made a job: no answer, or one that was not a refusal.
local MAY_EXIST = { timeout = true, server = true, protocol = true, network = true }

-- A field's limits as the model table means them: a length with no minimum is "at most N".
local function limits(lo, hi, unit)
  unit = unit and " " .. unit or ""
  if lo and hi then return ("%s%s%s%s"):format(lo, output.sym.range, hi, unit) end
  if hi then return ("at most %s%s"):format(hi, unit) end
  if unit ~= "" then return ("at least %s%s"):format(lo, unit) end
  return output.sym.ge .. " " .. lo
end
commands.limits = limits

local function show_fields(fields, indent)
  for _, f in ipairs(fields or {}) do
    local extra = {}
    if f.required then extra[#extra + 1] = "required" end
    if f.required_unless then
      extra[#extra + 1] = "required unless " .. table.concat(f.required_unless, " or ") .. " is true"
    end
    if f.min_length or f.max_length then extra[#extra + 1] = limits(f.min_length, f.max_length, "characters") end
    if f.min or f.max then extra[#extra + 1] = limits(f.min, f.max) end
    if f.format == "url" then extra[#extra + 1] = "an http(s) URL" end
    if f.transform == "data_uri" then extra[#extra + 1] = "a URL, data: URI or local audio file" end
    if f.enum then
      local e = {}
      for _, v in ipairs(f.enum) do e[#e + 1] = tostring(v) end
      extra[#extra + 1] = "one of " .. table.concat(e, "/")
    end
    if f.default ~= nil then extra[#extra + 1] = "default " .. tostring(f.default) end
    if f.alias then extra[#extra + 1] = "alias " .. f.alias end
    stdout((("%s%-20s %-8s %s"):format(indent, f.name, f.type or "", table.concat(extra, ", ")):gsub("%s+$", "")), "\n")
    if f.fields then show_fields(f.fields, indent .. "  ") end
  end
end

function commands.models(opts, rest, out)
  local names = {}
  for name in pairs(music.models) do names[#names + 1] = name end
  table.sort(names)
  if #rest > 1 then return fail(out, usage_error("models takes one model NAME")) end
  if rest[1] then
    if not music.models[rest[1]] then
      return fail(out, usage_error(("unknown model %s%s (see aimlmusic models)"):format(rest[1],
        args.model_hint(rest[1]))))
    end
    names = { rest[1] }
  end
  if opts.json then
    local o = {}
    for _, name in ipairs(names) do o[name] = plain(music.models[name]) end
    print_json({ models = o })
    return EXIT.ok
  end
  for _, name in ipairs(names) do
    local m = music.models[name]
    stdout(name, m.doc and " " .. output.sym.dash .. " " .. m.doc or "", "\n")
    show_fields(m.fields, "  ")
  end
  return EXIT.ok
end

function commands.completion(_, rest, out)
  local shell = rest[1]
  local script = require("aimlmusic.cli.completion")[shell or ""]
  if not script or #rest > 1 then
    return fail(out, usage_error("completion needs one of bash, zsh, fish" ..
      (shell and args.did_you_mean(shell, { bash = true, zsh = true, fish = true }) or "")))
  end
  stdout(script())
  return EXIT.ok
end

-- Fails with the library's validation error, and for a model that is not one, the model meant.
local function invalid(out, params, err)
  local hint = not music.models[params.model] and args.model_hint(params.model):match("^ %((.*)%)$") or nil
  return fail(out, err, hint)
end

function commands.validate(opts, _, out)
  local params, err = build_params(opts)
  if not params then return fail(out, err) end
  local ok
  ok, err = music.validate(params)
  if not ok then return invalid(out, params, err) end
  if out.json then print_json({ valid = true, model = params.model }) else stdout("valid\n") end
  return EXIT.ok
end

local function checked_params(opts, out)
  local params, err = build_params(opts)
  if not params then return nil, fail(out, err) end
  local ok
  ok, err = music.validate(params)
  if not ok then return nil, invalid(out, params, err) end
  return params
end

function commands.generate(opts, _, out)
  if not opts.output then return fail(out, usage_error("generate needs -o OUT")) end
  local params, code = checked_params(opts, out)
  if not params then return code end
  local client, err = client_for.make(opts, out)
  if not client then return fail(out, err) end
  local state = { phase = "submit", model = params.model, base_url = client.base_url, journal = client.journal,
                  output = opts.output, sent_at = os.time() }
  local on_status, on_progress, tick, on_submit = follower(out, state)
  local status_cb = function(st)
    if st.status == "completed" then state.download_started = now() end
    on_status(st)
  end
  if not out.tty then out:note("submitting to " .. params.model) end
  local st, gerr = drive(function()
    return client:generate(params, {
      output = opts.output, overwrite = opts.overwrite, timeout = opts.timeout,
      on_submit = on_submit, on_status = status_cb, on_progress = on_progress,
    })
  end, state, tick, out)
  if st == "interrupted" then return interrupted(out, state) end
  if not st then
    state.id = state.id or gerr.id
    local hint
    if gerr.kind == "timeout" and gerr.id then
      hint = ("job %s goes on: aimlmusic wait %s -o %s"):format(gerr.id, gerr.id, opts.output)
    elseif gerr.id and gerr.kind ~= "job_failed" then
      hint = ("job %s is kept: aimlmusic download %s -o %s"):format(gerr.id, gerr.id, opts.output)
    elseif not state.id and not gerr.retryable and MAY_EXIST[gerr.kind] then
      hint = output.may_exist(state, gerr) -- the request may have reached the server
    end
    local c = fail(out, gerr, hint)
    if gerr.id and not out.json then stdout(text(gerr.id), "\n") end
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
  local client, err = client_for.make(opts, out)
  if not client then return fail(out, err) end
  local state = { phase = "submit", model = params.model, base_url = client.base_url, journal = client.journal,
                  output = opts.output, sent_at = os.time() }
  local job, serr = drive(function()
    return client:submit(params, { output = opts.output, overwrite = opts.overwrite })
  end, state, nil, out)
  if job == "interrupted" then return interrupted(out, state) end
  if not job then
    return fail(out, serr, not serr.retryable and MAY_EXIST[serr.kind] and output.may_exist(state, serr) or nil)
  end
  if out.json then
    print_json(plain(job))
  else
    out:note(("submitted to %s: %s"):format(job.model or params.model, text(job.status or "queued")))
    stdout(text(job.id), "\n")
  end
  return EXIT.ok
end

local function one_id(cmd, rest, out)
  if #rest ~= 1 then return nil, fail(out, usage_error(cmd .. " needs one job ID")) end
  return rest[1]
end

-- The commands that name a job by id keep no journal of their own; a download that
-- delivers a journaled job marks it delivered there.
function commands.status(opts, rest, out)
  local id, code = one_id("status", rest, out)
  if not id then return code end
  local client, err = client_for.for_id(opts, out)
  if not client then return fail(out, err) end
  local st, serr = drive(function() return client:status(id) end, { phase = "wait" })
  if st == "interrupted" then return EXIT.interrupted end
  if not st then return fail(out, serr) end
  if out.json then
    print_json(plain(st))
  else
    local lines = { "id       " .. text(st.id or id), "status   " .. text(st.status) }
    if st.url then lines[#lines + 1] = "url      " .. text(st.url) end
    if st.duration_ms then lines[#lines + 1] = ("duration %.1f s"):format(st.duration_ms / 1000) end
    if st.error then
      lines[#lines + 1] = ("error    %s: %s"):format(text(st.error.name), text(st.error.message))
    end
    stdout(table.concat(lines, "\n"), "\n")
  end
  return st.status == "error" and EXIT.failed or EXIT.ok
end

local function wait_and_fetch(cmd, opts, rest, out)
  local id, code = one_id(cmd, rest, out)
  if not id then return code end
  if cmd == "download" and not opts.output then return fail(out, usage_error("download needs -o OUT")) end
  local client, err, jpath = client_for.for_id(opts, out)
  if not client then return fail(out, err) end
  local state = { phase = "wait", id = id, output = opts.output }
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
  end, state, tick, out)
  if st == "interrupted" then return interrupted(out, state) end
  if not st then
    local c = fail(out, werr)
    if werr.kind == "timeout" and not out.json then stdout(text(id), "\n") end
    return c
  end
  if st.path then
    client_for.mark_delivered(jpath, id, { path = st.path, bytes = st.bytes })
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
  local client, err = client_for.make(opts, out)
  if not client then return fail(out, err) end
  local pending = client:pending()
  if #pending == 0 then
    if out.json then print_json({ jobs = {} }) else out:note("nothing to resume in " .. client.journal) end
    return EXIT.ok
  end
  -- Several jobs: a Ctrl-C leaves them all to the next resume, not to the one followed last.
  local state = { phase = "wait", journal = client.journal, resume = true }
  local on_status, on_progress, tick = follower(out, state)
  if not out.tty then out:note(("resuming %d job(s) from %s"):format(#pending, client.journal)) end
  local results = drive(function()
    return client:resume({ timeout = opts.timeout, overwrite = opts.overwrite, on_status = on_status,
                           on_progress = on_progress })
  end, state, tick, out)
  if results == "interrupted" then return interrupted(out, state) end
  local code, jobs = EXIT.ok, {}
  for _, r in ipairs(results or {}) do
    local o = { id = r.id, path = r.path, status = r.st and r.st.status }
    if r.err then
      o.error = plain(r.err)
      if type(o.error.message) == "string" then o.error.message = output.cli_words(o.error.message) end
      if code == EXIT.ok then code = KIND_EXIT[r.err.kind] or EXIT.other end
      -- "aimlmusic: ID: io: ...", the program named once (-q keeps errors)
      out:err(("aimlmusic: %s: %s"):format(text(r.id), (output.cli_words(tostring(r.err)):gsub("^aimlmusic: ", ""))))
    else
      out:note(("%s: %s"):format(text(r.id), r.path and "saved " .. r.path or text(o.status or "done")))
    end
    jobs[#jobs + 1] = o
  end
  if out.json then
    print_json({ jobs = jobs })
  else
    for _, o in ipairs(jobs) do
      if o.path then stdout(o.path, "\n") end
    end
  end
  return code
end

function commands.mock(_, _, _, argv)
  local mock = require "aimlmusic.mock"
  return mock.main(argv)
end

return commands
