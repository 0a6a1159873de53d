-- The command line read into a request: options by command (`parse`), and the parameters
-- they make (`build_params`), `--set FIELD=VALUE` typed by the model table. Every mistake is
-- an error of kind "usage", never a raise.

local music = require "aimlmusic"
local json = require "aimlmusic.json"

local M = {}

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
local PATHS = { "output", "lyrics-file", "key-file", "journal" }
local CLIENT_OPTS = { "interval", "key-file", "base-url", "journal", "no-journal", "json" }
local NEEDS_CLIENT = { generate = true, submit = true, status = true, wait = true, download = true, resume = true }

local function usage_error(msg)
  return { kind = "usage", message = msg }
end
M.usage_error = usage_error

-- Parses argv (after the command) into opts and positional arguments.
function M.parse(cmd, argv)
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
  -- A path is cut at a NUL byte by the system: refused, rather than another file written.
  for _, k in ipairs(PATHS) do
    if opts[k] and opts[k]:find("\0", 1, true) then
      return nil, usage_error(("--%s has a NUL byte, which no path can hold"):format(k))
    end
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
