-- The client a command runs with: the key from AIMLAPI_KEY or --key-file, the base URL, the
-- poll interval, and the journal (its directory made on first use; --no-journal: none).

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local journal = require "aimlmusic.journal"
local args = require "aimlmusic.cli.args"

local M = {}

-- The default journal (see aimlmusic.cli.default_journal).
function M.default_journal()
  local state = os.getenv("XDG_STATE_HOME")
  if not state or state == "" then
    local home = os.getenv("HOME")
    -- Windows has no HOME: the user's local application data.
    local appdata = os.getenv("LOCALAPPDATA")
    if home and home ~= "" then
      state = home .. "/.local/state"
    elseif appdata and appdata ~= "" then
      local sep = package.config:sub(1, 1) -- the system's separator: \ on Windows
      return appdata .. sep .. "aimlmusic" .. sep .. "jobs.journal"
    else
      return nil
    end
  end
  return state .. "/aimlmusic/jobs.journal"
end

-- mkdir -p of path's directory.
local function make_parent(path)
  local dir = path:match("^(.*)[/\\][^/\\]*$")
  if not dir or dir == "" then return true end
  -- A Windows drive (C:\...) starts from the drive's root.
  local drive, rest = dir:match("^(%a:)[/\\](.*)$")
  local sofar = drive or (dir:find("^[/\\]") and "" or ".")
  for part in (rest or dir):gmatch("[^/\\]+") do
    sofar = sofar .. "/" .. part
    local ok, err = core.mkdir(sofar)
    if not ok then return nil, err end
  end
  return true
end

M.make_parent = make_parent

function M.journal_path(opts)
  if opts["no-journal"] then return nil end
  local path = opts.journal or M.default_journal()
  if path then
    local ok, err = make_parent(path)
    if not ok then return nil, { kind = "io", message = "cannot create the journal's directory: " .. err } end
  end
  return path
end

-- A client for the options of a command, and its journal path; or nil and an error. Its
-- events go to out.on_event (the follower's, or --verbose's lines) when out has one.
function M.make(opts, out)
  local key
  if opts["key-file"] then
    local s, err = args.read_all(opts["key-file"])
    if not s then return nil, args.usage_error("cannot read the key file: " .. tostring(err)) end
    key = s:match("^%s*(.-)%s*$")
    if key == "" then return nil, args.usage_error("the key file " .. opts["key-file"] .. " is empty") end
  elseif (os.getenv("AIMLAPI_KEY") or "") == "" then
    return nil, { kind = "config", message = "no API key: set AIMLAPI_KEY or use --key-file FILE" }
  end
  local jpath, jerr = M.journal_path(opts)
  if jerr then return nil, jerr end
  local client, err = music.new {
    api_key = key, base_url = opts["base-url"], poll_interval = opts.interval, journal = jpath,
    timeout = opts["request-timeout"], max_retries = opts.retries,
    on_event = out and function(ev)
      if out.on_event then out.on_event(ev) end
    end,
    log_level = out and (opts.verbose and "debug" or "warn"),
  }
  if not client then return nil, err end
  return client, jpath
end

-- The commands that name a job by id keep no journal of their own; a download that
-- delivers a journaled job marks it delivered there.
function M.for_id(opts, out)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o["no-journal"] = true
  local client, err = M.make(o, out)
  return client, err, M.journal_path(opts)
end

-- Marks job id delivered in the journal at jpath, when it is pending there.
function M.mark_delivered(jpath, id, info)
  if not jpath then return end
  for _, j in ipairs(journal.pending(jpath)) do
    if j.id == id then
      journal.delivered(jpath, id, info)
      return
    end
  end
end

return M
