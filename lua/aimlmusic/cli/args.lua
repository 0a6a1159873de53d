-- The command line read into a request: options by command (`parse`), and the parameters
-- they make (`build_params`), `--set FIELD=VALUE` typed by the model table. Every mistake is
-- an error of kind "usage", never a raise.
--
-- Hand-written rather than lua-argparse (Debian's 0.7.1 was weighed): the command must run
-- from a checkout, the rock and the Windows zip with no dependency but its own core; its
-- mistakes must come back as values (`--json` prints them as {"error": ...}, exit code 2),
-- where argparse's error() exits; and what argparse would not replace is most of this file:
-- `--set` typed by the model table, the config file's keys, and completion of model names
-- and fields from the same table (aimlmusic.cli.completion reads OPTIONS and ALLOWED below).

local music = require "aimlmusic"
local json = require "aimlmusic.json"

local M = {}

-- Options: name -> true (a flag) or "value". Short names map to long ones.
local SHORT = { m = "model", p = "prompt", l = "lyrics", o = "output", h = "help", q = "quiet", v = "verbose" }
local OPTIONS = {
  model = "value", prompt = "value", lyrics = "value", ["lyrics-file"] = "value", set = "list",
  output = "value", ["output-dir"] = "value", overwrite = true, timeout = "value", interval = "value",
  ["request-timeout"] = "value", retries = "value",
  ["key-file"] = "value", ["base-url"] = "value", journal = "value", ["no-journal"] = true,
  json = true, help = true, quiet = true, verbose = true,
}
local ALLOWED = {
  generate = { "model", "prompt", "lyrics", "lyrics-file", "set", "output", "output-dir", "overwrite", "timeout" },
  submit = { "model", "prompt", "lyrics", "lyrics-file", "set", "output", "output-dir", "overwrite" },
  status = {},
  wait = { "output", "output-dir", "overwrite", "timeout" },
  download = { "output", "output-dir", "overwrite" },
  resume = { "timeout", "overwrite" },
  models = { "json" },
  validate = { "model", "prompt", "lyrics", "lyrics-file", "set", "json" },
}
local GLOBAL = { "help", "quiet", "verbose" } -- every command, and before the command
local PATHS = { "output", "output-dir", "lyrics-file", "key-file", "journal" }
local CLIENT_OPTS = { "interval", "request-timeout", "retries", "key-file", "base-url", "journal", "no-journal", "json" }
local NEEDS_CLIENT = { generate = true, submit = true, status = true, wait = true, download = true, resume = true }
local NUMBERS = { timeout = "seconds", interval = "seconds", ["request-timeout"] = "seconds", retries = "count" }
-- The library's bounds (aimlmusic.options: kinds.seconds, kinds.retries).
local MIN_SECONDS, MAX_SECONDS, MAX_RETRIES = 0.001, 2147483, 100

--- What the command line knows, for help, completion and the man page: options by name
-- (true: a flag, "value", "list"), short names, and the options of each command.
M.OPTIONS, M.SHORT, M.GLOBAL = OPTIONS, SHORT, GLOBAL

local function usage_error(msg)
  return { kind = "usage", message = msg }
end
M.usage_error = usage_error

--- The options cmd takes, as a set of long names.
function M.allowed(cmd)
  local allowed = {}
  for _, k in ipairs(GLOBAL) do allowed[k] = true end
  for _, k in ipairs(ALLOWED[cmd] or {}) do allowed[k] = true end
  if NEEDS_CLIENT[cmd] then
    for _, k in ipairs(CLIENT_OPTS) do allowed[k] = true end
  end
  return allowed
end

--- The commands that take options (every command but mock), sorted.
function M.commands()
  local names = {}
  for k in pairs(ALLOWED) do names[#names + 1] = k end
  table.sort(names)
  return names
end

-- " (did you mean X?)", or "" when nothing known is close to name.
local function did_you_mean(name, known, prefix)
  local hint = require("aimlmusic.options").closest(name, known)
  return hint and (" (did you mean %s%s?)"):format(prefix or "", hint) or ""
end
M.did_you_mean = did_you_mean

--- " (did you mean MODEL?)" for a model name that is not one, or "": a slip, or a short name
-- (music-2.6 for minimax/music-2.6, lyria2, stable) that one model's name ends or starts with.
function M.model_hint(name)
  name = tostring(name or "")
  local hint = did_you_mean(name, music.models)
  if hint ~= "" or name == "" then return hint end
  local lower, found = name:lower(), nil
  for k in pairs(music.models) do
    local short = k:match("[^/]+$")
    if short == lower or short:sub(1, #lower) == lower or k:sub(1, #lower) == lower then
      if found then return "" end -- two or more: no guess
      found = k
    end
  end
  return found and (" (did you mean %s?)"):format(found) or ""
end

-- The config file's keys: the long names of the options worth a default.
local CONFIG_KEYS = {
  model = true, ["output-dir"] = true, ["key-file"] = true, ["base-url"] = true, journal = true,
  ["no-journal"] = true, interval = true, timeout = true, ["request-timeout"] = true, retries = true,
  quiet = true, verbose = true, overwrite = true,
}
M.CONFIG_KEYS = CONFIG_KEYS

--- The config file: $XDG_CONFIG_HOME/aimlmusic/config, else ~/.config/aimlmusic/config.
---@return string|nil path nil when neither XDG_CONFIG_HOME nor HOME is set
function M.config_path()
  local dir = os.getenv("XDG_CONFIG_HOME")
  if not dir or dir == "" then
    local home = os.getenv("HOME")
    if not home or home == "" then
      -- Windows has no HOME: the user's roaming application data, in the system's separator.
      local appdata, sep = os.getenv("APPDATA"), package.config:sub(1, 1)
      if not appdata or appdata == "" then return nil end
      return appdata .. sep .. "aimlmusic" .. sep .. "config"
    end
    dir = home .. "/.config"
  end
  return dir .. "/aimlmusic/config"
end

local FLAG_VALUE = { ["true"] = true, yes = true, on = true, ["1"] = true,
  ["false"] = false, no = false, off = false, ["0"] = false }

--- Reads a config file of `key = value` lines (# comments, blank lines): {key = value}, or
-- nil and a usage error naming the line. A missing file is an empty config.
local config_line = setmetatable({}, { __mode = "k" }) -- conf -> {key = "path:N: "}

function M.read_config(path)
  local conf = {}
  local lines = {}
  config_line[conf] = lines
  if not path then return conf end
  local f = io.open(path, "rb")
  if not f then return conf end
  local n = 0
  for line in f:lines() do
    n = n + 1
    line = line:gsub("\r$", "")
    if not line:match("^%s*$") and not line:match("^%s*#") then
      local key, value = line:match("^%s*([%w%-_]+)%s*=%s*(.-)%s*$")
      local where = ("%s:%d: "):format(path, n)
      if not key then
        f:close()
        return nil, usage_error(where .. "expected key = value, got " .. line)
      end
      if not CONFIG_KEYS[key] then
        f:close()
        local hint = (key == "key" or key == "api-key" or key == "api_key")
          and " (the key itself stays out of this file: key-file = FILE, or AIMLAPI_KEY)"
          or did_you_mean(key, CONFIG_KEYS)
        return nil, usage_error(("%sunknown key %s%s"):format(where, key, hint))
      end
      if OPTIONS[key] == true then
        local b = FLAG_VALUE[value:lower()]
        if b == nil then
          f:close()
          return nil, usage_error(("%s%s needs true or false, got %s"):format(where, key, value))
        end
        value = b
      elseif key:match("file$") or key == "journal" or key == "output-dir" then
        local home = os.getenv("HOME")
        if home and value:sub(1, 2) == "~/" then value = home .. value:sub(2) end
      end
      conf[key], lines[key] = value, where
    end
  end
  f:close()
  return conf
end

-- Reads one option at argv[i] into opts: the next index, or nil and an error. allowed: the set
-- of names cmd takes; an unknown one is named with the closest known one.
local function read_option(cmd, allowed, argv, i, opts, rest)
  local a = argv[i]
  local name, inline
  if a:match("^%-%-") then
    name, inline = a:match("^%-%-([^=]+)=(.*)$")
    name = name or a:sub(3)
  elseif a:match("^%-%a") then
    name = SHORT[a:sub(2, 2)]
    if not name then
      return nil, usage_error(("unknown option %s%s"):format(a, did_you_mean(a:sub(2, 2), SHORT, "-")))
    end
    if #a > 2 then
      -- -qv: flags together; -pTEXT: a value stuck to its option.
      if OPTIONS[name] == true then
        for j = 3, #a do
          local more = SHORT[a:sub(j, j)]
          if not more or OPTIONS[more] ~= true or not allowed[more] then
            return nil, usage_error(("unknown option -%s in %s"):format(a:sub(j, j), a))
          end
          opts[more] = true
        end
      else
        inline = a:sub(3)
      end
    end
  else
    rest[#rest + 1] = a
    return i + 1
  end
  if name == "key" or name == "api-key" then
    return nil, usage_error("--" .. name .. " is not accepted: a command line is visible to every user of "
      .. "the machine; set AIMLAPI_KEY or use --key-file FILE")
  end
  local kind = OPTIONS[name]
  if not cmd and kind and not allowed[name] then -- before the command: an option of the command's
    return nil, usage_error(("--%s goes after the command: aimlmusic COMMAND --%s (see aimlmusic --help)")
      :format(name, name))
  end
  if not kind or not allowed[name] then
    local where = cmd and (" for aimlmusic %s (see aimlmusic %s --help)"):format(cmd, cmd)
      or " (see aimlmusic --help)"
    return nil, usage_error(("unknown option --%s%s%s"):format(name, did_you_mean(name, allowed, "--"), where))
  end
  if kind == true then
    if inline then return nil, usage_error("--" .. name .. " takes no value") end
    opts[name] = true
    return i + 1
  end
  local v = inline
  if v == nil then
    i = i + 1
    v = argv[i]
  end
  if v == nil then return nil, usage_error("--" .. name .. " needs a value") end
  if kind == "list" then opts[name][#opts[name] + 1] = v else opts[name] = v end
  return i + 1
end

--- Whether argv (the words after cmd; nil: the whole command line) asks for --json, for an
-- error found before its options are read: one JSON object all the same.
function M.wants_json(cmd, argv)
  for _, a in ipairs(argv) do
    if a == "--" then break end
    if a == "--json" then return cmd == nil or M.allowed(cmd).json == true end
  end
  return false
end

--- Reads the options before the command (--quiet, --verbose, --help, --version): opts, the
-- index of the command, or nil and an error.
function M.parse_global(argv)
  local opts, allowed = {}, { quiet = true, verbose = true, help = true }
  local i = 1
  while argv[i] and argv[i]:match("^%-") do
    if argv[i] == "--version" then
      opts.version = true
      i = i + 1
    else
      local nxt, err = read_option(nil, allowed, argv, i, opts, {})
      if not nxt then return nil, err end
      i = nxt
    end
  end
  return opts, i
end

-- Parses argv (after the command) into opts and positional arguments. pre: the options given
-- before the command; conf: the config file's values, which anything on the command line
-- overrides.
function M.parse(cmd, argv, pre, conf)
  local allowed = M.allowed(cmd)
  local opts, rest = { set = {} }, {}
  for k, v in pairs(pre or {}) do opts[k] = v end
  local i = 1
  while i <= #argv do
    if argv[i] == "--" then
      for j = i + 1, #argv do rest[#rest + 1] = argv[j] end
      break
    end
    local nxt, err = read_option(cmd, allowed, argv, i, opts, rest)
    if not nxt then return nil, err end
    i = nxt
  end
  if opts.quiet and opts.verbose then return nil, usage_error("give -q or -v, not both") end
  -- What an option is called in a message: --name, or the config file's line that set it.
  local named = {}
  for key, value in pairs(conf or {}) do
    local pair = (key == "quiet" or key == "verbose") and (opts.quiet or opts.verbose)
    local journal_set = (key == "journal" or key == "no-journal") and (opts.journal or opts["no-journal"])
    if allowed[key] and opts[key] == nil and not pair and not journal_set and value ~= false then
      opts[key] = value
      named[key] = ((config_line[conf] or {})[key] or "") .. key
    end
  end
  -- A path is cut at a NUL byte by the system: refused, rather than another file written.
  for _, k in ipairs(PATHS) do
    if opts[k] and opts[k]:find("\0", 1, true) then
      return nil, usage_error(("--%s has a NUL byte, which no path can hold"):format(k))
    end
  end
  -- The ranges the library takes (aimlmusic.options), said here in the command's words.
  for k, what in pairs(NUMBERS) do
    if opts[k] then
      local n = tonumber(opts[k])
      local name = named[k] or "--" .. k
      if what == "count" then
        if not n or n < 0 or n > MAX_RETRIES or n ~= math.floor(n) then
          return nil, usage_error(("%s needs a whole number from 0 to %d"):format(name, MAX_RETRIES))
        end
      elseif not n or n < MIN_SECONDS or n > MAX_SECONDS then
        return nil, usage_error(("%s needs a number of seconds from %s to %d"):format(name, MIN_SECONDS, MAX_SECONDS))
      end
      opts[k] = n
    end
  end
  -- A relative output goes under --output-dir.
  if opts["output-dir"] and opts.output and not opts.output:match("^/") and not opts.output:match("^%a:[/\\]") then
    opts.output = opts["output-dir"]:gsub("/+$", "") .. "/" .. opts.output
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
      -- where the JSON went wrong, when it was JSON that was meant
      local why = not ok and text:find("^%s*[{%[]") and (" (not JSON: %s)"):format(tostring(v)) or ""
      return nil, ("%s is an object: set its fields (--set %s.FIELD=VALUE) or give JSON%s"):format(field.name,
        field.name, why)
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
  if not model then
    return nil, ("unknown model %s%s (see aimlmusic models)"):format(tostring(params.model), M.model_hint(params.model))
  end
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

function M.read_all(path)
  if path == "-" then return io.stdin:read("*a") end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end

-- The request from the options: model, prompt, lyrics, then every --set in order.
function M.build_params(opts)
  local params = { model = opts.model or "minimax/music-2.0", prompt = opts.prompt, lyrics = opts.lyrics }
  if opts["lyrics-file"] then
    if opts.lyrics then return nil, usage_error("give -l or --lyrics-file, not both") end
    local s, err = M.read_all(opts["lyrics-file"])
    if not s then return nil, usage_error("cannot read lyrics: " .. tostring(err)) end
    params.lyrics = (s:gsub("\r?\n$", ""))
  end
  for _, a in ipairs(opts.set) do
    local ok, err = M.apply_set(params, a)
    if not ok then return nil, usage_error(err) end
  end
  return params
end

return M
