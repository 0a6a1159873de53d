-- What the command says: stdout carries the result (one JSON object with --json), stderr
-- carries progress (plain lines, or a live status line and progress bar on a terminal); and
-- the exit code each outcome ends with. Whatever a server sent (ids, statuses, messages, URLs)
-- is escaped before it is shown, in every mode: it can neither drive the terminal nor forge a
-- line (errors.escape; inside --json's object, escapes that keep the JSON valid and the same).

local core = require "aimlmusic.core"
local errors = require "aimlmusic.errors"
local events = require "aimlmusic.events"
local json = require "aimlmusic.json"

local now = require("aimlmusic.task").now -- seconds, monotonic
local escape = errors.escape

local M = {}

-- A server's string (or anything) as one safe line of text.
local function text(v)
  return escape(tostring(v))
end

-- Exit codes by outcome.
local EXIT = { ok = 0, other = 1, usage = 2, auth = 3, failed = 4, timeout = 5, interrupted = 130 }

-- The command's own symbols (never the user's text). A Windows console shows UTF-8 as its OEM
-- code page's letters ("·" as "┬╖") unless told chcp 65001: there they are ASCII.
M.sym = package.config:sub(1, 1) == "\\" and { dot = "|", dash = "-", range = "-", ge = ">=" }
  or { dot = "·", dash = "—", range = "–", ge = "≥" }
local DOT = " " .. M.sym.dot .. " "

local KIND_EXIT = {
  validation = EXIT.usage, config = EXIT.usage,
  auth = EXIT.auth, credits = EXIT.auth,
  job_failed = EXIT.failed,
  timeout = EXIT.timeout,
}

local Out = {}
Out.__index = Out

-- opts.quiet: nothing on stderr but errors (no status line either); opts.verbose: the client's
-- events too, one line each.
local function new_out(opts)
  local out = setmetatable({ json = opts.json, quiet = opts.quiet, verbose = opts.verbose,
                            tty = not opts.quiet and core.isatty(2), line = false }, Out)
  if opts.verbose then out.on_event = function(ev) out:err(events.format(ev)) end end
  return out
end

-- The width in columns of the terminal on stderr: $COLUMNS, else what stty says of it, else
-- 80; asked once.
local columns
local function term_width()
  if not columns then
    columns = tonumber(os.getenv("COLUMNS") or "")
    if not columns then
      local p = io.popen("stty size <&2 2>/dev/null")
      columns = p and tonumber((p:read("*l") or ""):match("^%d+ (%d+)") or "")
      if p then p:close() end
    end
    columns = columns and columns >= 20 and columns or 80
  end
  return columns
end

-- The characters (UTF-8) of s.
local function chars(s)
  return select(2, s:gsub("[^\128-\191]", ""))
end

-- s cut to n characters (UTF-8), so that it never wraps.
local function fit(s, n)
  local k, cut = 0, nil
  for pos in s:gmatch("()[^\128-\191][\128-\191]*") do
    k = k + 1
    if k > n then
      cut = pos
      break
    end
  end
  return cut and s:sub(1, cut - 1) or s
end

-- The output whose status line is on the terminal now: anything written to stdout clears it
-- first, or the result would run on from the status line (both are the terminal).
local live = nil

-- Replaces the terminal's status line (a terminal only), cut to one row: a line that wraps
-- leaves a row behind at each update, since \r goes back to the start of the last row only.
function Out:status_line(s)
  if not self.tty or (self.line and s == self.shown) then return end
  s = fit(s, term_width() - 1)
  io.stderr:write("\r\27[K", s)
  io.stderr:flush()
  self.line, self.shown, live = true, s, self
end

-- Clears the status line, if one is shown (drawn again at the next tick).
function Out:clear()
  if self.line then
    io.stderr:write("\r\27[K")
    io.stderr:flush()
    self.line, self.shown, live = false, nil, nil
  end
end

-- Writes to stdout, after clearing a status line.
local function stdout(...)
  if live then live:clear() end
  io.stdout:write(...)
end

-- A line on stderr, after clearing a status line (drawn again at the next tick); --quiet
-- keeps only errors (Out:err).
function Out:err(s)
  self:clear()
  io.stderr:write(s, "\n")
  io.stderr:flush()
end

function Out:note(s)
  if not self.quiet then self:err(s) end
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

-- A progress bar: bytes, rate, time left; and a notice after it (a stall, a retry).
function Out:bar(done, total, elapsed, notice)
  if not self.tty then return end
  local rate = elapsed > 0 and done / elapsed or 0
  local after = notice and DOT .. notice or ""
  local s
  if total and total > 0 then
    local left = rate > 0 and clock((total - done) / rate) or "--:--"
    local pct, sizes = (" %3d%%"):format(math.floor(100 * done / total)),
      (" %s / %s"):format(human_bytes(done), human_bytes(total))
    -- On a narrow terminal the figures go, least needed first (the rate, then the sizes),
    -- rather than a row cut in the middle of a word.
    local room = term_width() - 1 - #"downloading []" - 6 - chars(after)
    local figures = pct .. sizes .. (" %s/s %s left"):format(human_bytes(rate), left)
    for _, f in ipairs({ pct .. sizes .. " " .. left .. " left", pct .. sizes, pct }) do
      if chars(figures) <= room then break end
      figures = f
    end
    figures = figures .. after
    -- The bar takes what the figures and the notice leave of the row: 24 at most, 6 at least.
    local width = math.max(6, math.min(24, term_width() - 1 - #"downloading []" - chars(figures)))
    local filled = math.floor(width * math.min(done, total) / total)
    s = ("downloading [%s%s]"):format(("#"):rep(filled), ("."):rep(width - filled)) .. figures
  else
    s = ("downloading %s %s/s"):format(human_bytes(done), human_bytes(rate)) .. after
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
  stdout(escape(json.encode(t), "json"), "\n")
end

-- The library's words for its options, as this command's flags: an error that says
-- "pass overwrite = true" means --overwrite here, "resume with overwrite = true" resume --overwrite.
local function cli_words(s)
  return (s:gsub("%(pass overwrite = true to", "(pass --overwrite to")
    :gsub("resume with overwrite = true", "aimlmusic resume --overwrite"))
end

-- An error as lines: tostring of the library's errors (escaped there), the message of the
-- command's own; then each field problem not already said.
local function describe_error(err)
  if type(err) ~= "table" then return "aimlmusic: " .. text(err) end
  local lines = { cli_words(errors.is_error(err) and tostring(err) or "aimlmusic: " .. text(err.message)) }
  for _, f in ipairs(err.fields or {}) do
    local line = ("%s: %s"):format(text(f.field), text(f.message))
    if not lines[1]:find(line, 1, true) then lines[#lines + 1] = "  " .. line end
  end
  return table.concat(lines, "\n")
end

-- Reports err (stderr, or one JSON object) and returns its exit code.
local function fail(out, err, hint)
  local code = KIND_EXIT[err.kind] or (err.kind == "usage" and EXIT.usage) or EXIT.other
  if out.json then
    local e = plain(err)
    if e.kind == "usage" then e.kind = "validation" end
    if type(e.message) == "string" then e.message = cli_words(e.message) end
    if hint then e.hint = hint end
    print_json({ error = e })
  end
  out:err(describe_error(err))
  if hint then out:err(text(hint)) end
  return code
end

local function status_text(st)
  return text(st.status) .. (st.id and " " .. text(st.id) or "")
end

-- Follows a job on stderr: one plain line per change, or on a terminal a live line whose
-- elapsed time ticks from the start (tick runs several times a second). on_submit shows the
-- job id the moment the submit answers.
local function follower(out, state)
  local started, last = now(), nil
  state.progress_at = now()
  local function on_submit(job)
    state.id, state.phase, state.status = job.id, "wait", job.status
    last = tostring(job.id) .. "\0" .. tostring(job.status)
    out:note(("job %s submitted (%s)"):format(text(job.id), text(job.status)))
  end
  local function on_status(st)
    state.id = st.id or state.id
    state.phase, state.notice = "wait", nil
    local key = tostring(st.id) .. "\0" .. tostring(st.status)
    if key ~= last then
      last, state.status = key, st.status
      if not out.tty then out:note(status_text(st)) end
    end
  end
  local function on_progress(done, total)
    if done ~= state.done then state.progress_at, state.notice, state.stalled = now(), nil, nil end
    state.phase = "download"
    state.done, state.total = done, total
    out:bar(done, total, now() - (state.download_started or now()), state.notice)
  end
  local function tick()
    if not out.tty then return end
    local elapsed = math.floor(now() - started)
    local notice = state.notice and DOT .. state.notice or ""
    if state.phase == "submit" then
      out:status_line(("submitting%s%ds%s"):format(DOT, elapsed, notice))
    elseif state.phase == "wait" then
      -- The id last: on a narrow terminal it is what is cut (it has a line of its own above).
      out:status_line(("%s%s%ds%s%s%s"):format(text(state.status or "submitted"), DOT, elapsed, notice,
        DOT, text(state.id or "")))
    elseif state.phase == "download" then
      -- No byte for a while: say so, rather than a bar frozen on its last estimate.
      local idle = math.floor(now() - (state.progress_at or now()))
      local say = state.notice or (idle >= 3 and ("no data for %ds"):format(idle)) or nil
      if say then out:bar(state.done or 0, state.total, now() - (state.download_started or now()), say) end
    end
  end
  -- The client's events: each on its own line with --verbose; a stall or a retry on the
  -- status line ("stalled, retrying (1/3)").
  local function on_event(ev)
    if out.verbose then out:err(events.format(ev)) end
    if ev.kind == "stall" then
      state.stalled = true
      state.notice = "stalled"
    elseif ev.kind == "retry" then
      local why = state.stalled and "stalled" or (ev.status and ("HTTP %d"):format(ev.status)) or ev.error_kind
      state.notice = ("%s, retrying (%s/%s)"):format(text(why or "failed"), tostring(ev.attempt),
        tostring(ev.max_retries))
      state.stalled = nil
    end
  end
  out.on_event = on_event
  return on_status, on_progress, tick, on_submit, on_event
end

-- A path as a shell word, for a command to copy.
local function shell_word(s)
  if s:match("^[%w%%+,./:=@_-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- What to run to go on with job state.id.
local function go_on(state)
  local wait = ("aimlmusic wait %s%s"):format(shell_word(state.id),
    state.output and " -o " .. shell_word(state.output) or "")
  if state.journal then return ("aimlmusic resume finishes it (or %s)"):format(wait) end
  return wait .. " finishes it"
end

-- The submit was in flight, or failed (err) where the request may have been taken: the job may
-- exist although its id never came back. Everything that finds it: the model, when and where
-- it was sent, the request id when one came.
local function may_exist(state, err)
  local where = ("model %s, sent %s to %s"):format(state.model or "?",
    os.date("!%Y-%m-%dT%H:%M:%SZ", state.sent_at or os.time()), state.base_url or "?")
  if err and err.request_id then where = where .. ", request_id " .. err.request_id end
  local msg = "a job may exist and be billed, though its id never came back: " .. where
  if err then return msg end -- the answer came and was not a job: nothing reached the journal
  if state.journal then
    return msg .. "; if the answer reached the journal (" .. state.journal .. "), aimlmusic resume finishes it"
  end
  return msg .. "; no journal keeps it (--no-journal): these find it"
end

-- Ctrl-C ended the command: says what became of the job and how to go on; exit 130.
local function interrupted(out, state)
  local msg
  if state.resume then
    state.id = nil -- the job followed last is one of several; none is printed as the result
    msg = "interrupted: the journal's jobs stay pending; aimlmusic resume goes on"
  elseif state.id then
    msg = ("interrupted: job %s is kept; %s"):format(state.id, go_on(state))
  elseif state.phase == "submit" then
    msg = "interrupted while the submit was in flight: " .. may_exist(state)
  elseif state.journal then
    msg = "interrupted: the journal's jobs stay pending; aimlmusic resume goes on"
  else
    msg = "interrupted"
  end
  if out.json then
    local e = { kind = "interrupted", message = msg, id = state.id }
    if not state.id and state.phase == "submit" then
      e.model, e.base_url, e.sent_at = state.model, state.base_url, os.date("!%Y-%m-%dT%H:%M:%SZ", state.sent_at)
    end
    print_json({ error = e })
  end
  out:err(text(msg))
  if state.id and not out.json then stdout(text(state.id), "\n") end
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
      stdout(path or st.path, "\n")
    else
      stdout(status_text(st), "\n")
    end
  end
  return EXIT.ok
end

M.EXIT, M.KIND_EXIT = EXIT, KIND_EXIT
M.new = new_out -- the output of a command run with opts (opts.json: one JSON object on stdout)
M.plain, M.print_json, M.describe_error, M.fail, M.stdout = plain, print_json, describe_error, fail, stdout
-- Clears a status line still shown: the command is over.
function M.finish()
  if live then live:clear() end
end
M.follower, M.interrupted, M.report_done = follower, interrupted, report_done
M.text, M.may_exist, M.cli_words = text, may_exist, cli_words
return M
