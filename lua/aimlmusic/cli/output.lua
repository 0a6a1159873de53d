-- What the command says: stdout carries the result (one JSON object with --json), stderr
-- carries progress (plain lines, or a live status line and progress bar on a terminal); and
-- the exit code each outcome ends with.

local core = require "aimlmusic.core"
local json = require "aimlmusic.json"
if json.encode_escape_forward_slash then json.encode_escape_forward_slash(false) end

local now = require("aimlmusic.task").now -- seconds, monotonic

local M = {}

-- Exit codes by outcome.
local EXIT = { ok = 0, other = 1, usage = 2, auth = 3, failed = 4, timeout = 5, interrupted = 130 }

local KIND_EXIT = {
  validation = EXIT.usage, config = EXIT.usage,
  auth = EXIT.auth, credits = EXIT.auth,
  job_failed = EXIT.failed,
  timeout = EXIT.timeout,
}

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

M.EXIT, M.KIND_EXIT = EXIT, KIND_EXIT
M.new = new_out -- the output of a command run with opts (opts.json: one JSON object on stdout)
M.plain, M.print_json, M.describe_error, M.fail = plain, print_json, describe_error, fail
M.follower, M.interrupted, M.report_done = follower, interrupted, report_done
return M
