-- Parameters checked against the model table (aimlmusic.models), every problem reported, and
-- the request body built from them. Owns: the walk over a model's fields (aliases, required and
-- required_unless, defaults, nested objects, unknown keys), one value against its field's rules
-- (type, UTF-8, lengths, ranges, enum, URL format, audio as a URL, data: URI or file), the list
-- of problems and the validation error. Must not know: HTTP, the engine, how a file is read and
-- sent as a data: URI (the core's datauri does that, on a worker when a task read it ahead).
-- Policy in Lua, as DESIGN.md has it. The walk says what is wrong; a valid request is checked
-- by a function made from each model's fields (the fast path, below), which costs less than the
-- C walk it replaced.

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local core = require "aimlmusic.core"
local schema = require "aimlmusic.schema"
local errors = require "aimlmusic.errors"

local datauri = require "aimlmusic.datauri"
local utf8_len, datauri_check, is_url, json_encode = core.utf8_len, datauri.check, datauri.is_url, core.json_encode
local type, next, rawequal, tostring, getmetatable = type, next, rawequal, tostring, getmetatable
local floor, huge, min = math.floor, math.huge, math.min
local format, concat, sort, byte, sub = string.format, table.concat, table.sort, string.byte, string.sub

local M = {}

local PATH_MAX = 127     -- bytes of a field's path in a message ("audio_setting.format")
local UNKNOWN_MAX = 32   -- unknown keys named, and model names listed, at most
local INT_LIMIT = 2 ^ 53 -- an integer past it no longer survives JSON's doubles

local cut_nul = require("aimlmusic.errors").cut_nul

-- "audio_setting.format": made only for a message. Names from the model table hold no NUL
-- (a user's unknown key may).
local function join(prefix, name)
  local s = prefix .. name
  return #s > PATH_MAX and sub(s, 1, PATH_MAX) or s
end

-- Byte order, as strcmp: the locale (which Neovim sets) must not reorder a message.
local function bytewise(a, b)
  for i = 1, min(#a, #b) do
    local x, y = byte(a, i), byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- A short, safe rendering of a user value for a message: strings quoted and cut (on a
-- character boundary, so the message stays valid UTF-8), numbers as Lua prints them.
local function show(v)
  local t = type(v)
  if t == "number" then return tostring(v) end
  if t ~= "string" then return t end
  if #v <= 40 then return '"' .. cut_nul(v) .. '"' end
  local cut = 37
  while cut > 0 do
    local c = byte(v, cut + 1)
    if c < 0x80 or c >= 0xc0 then break end
    cut = cut - 1
  end
  return '"' .. cut_nul(sub(v, 1, cut)) .. '..."'
end

-- A number as Lua prints it, whole numbers without a fraction: "44100", "0.5".
local function number(x)
  if x >= -INT_LIMIT and x <= INT_LIMIT and x == floor(x) then return format("%d", x) end
  return tostring(x + 0.0)
end

local function problem(st, path, message)
  local list = st.problems
  if not list then
    list = {}
    st.problems = list
  end
  list[#list + 1] = { field = path, message = message }
end

local function enum_message(e, v)
  local shown = {}
  for i = 1, #e do
    local x = e[i]
    shown[i] = (type(x) == "string" or type(x) == "number") and tostring(x) or ""
  end
  return "must be one of " .. concat(shown, ", ") .. " (got " .. show(v) .. ")"
end

-- One value (of Lua type tv) against its field's own rules: true (and, for audio given as a
-- file, what is sent instead when build); false and the message; or "object" for validate's
-- walk to go into. The spec's own keys have the types aimlmusic.schema checked.
local function check_field(spec, v, tv, build, files)
  local ty, wire = spec.type or "string", nil
  if ty == "string" then
    if tv ~= "string" then return false, "must be a string (got " .. tv .. ")" end
    local len, bad = utf8_len(v)
    if not len then return false, format("is not valid UTF-8 (bad byte at offset %d)", bad) end
    local lim = spec.min_length
    if lim and len < lim then return false, format("must be at least %d characters (got %d)", lim, len) end
    lim = spec.max_length
    if lim and len > lim then return false, format("must be at most %d characters (got %d)", lim, len) end
    if spec.format and not is_url(v) then return false, "must be an http(s) URL (got " .. show(v) .. ")" end
    if spec.transform then
      local ok, res = datauri_check(v, spec.max_bytes or 0, build, files)
      if not ok then return false, res end
      wire = res
    end
  elseif ty == "integer" or ty == "number" then
    local integer = ty == "integer"
    if tv ~= "number" then
      return false, format("must be %s (got %s)", integer and "an integer" or "a number", tv)
    end
    local x = v + 0.0 -- compared as the double it is sent as
    if x ~= x or x == huge or x == -huge or (integer and x ~= floor(x)) then
      return false, format("must be %s (got %s)", integer and "an integer" or "a finite number", show(v))
    end
    -- (A field with an enum says which values it takes instead.)
    if integer and (x > INT_LIMIT or x < -INT_LIMIT) and spec.enum == nil then
      return false, "must be an integer between -2^53 and 2^53 (got " .. show(v) .. ")"
    end
    local lim = spec.min
    if lim and x < lim then
      return false, format("must be at least %s (got %s)", number(lim), number(x))
    end
    lim = spec.max
    if lim and x > lim then
      return false, format("must be at most %s (got %s)", number(lim), number(x))
    end
  elseif ty == "object" then
    return "object"
  elseif tv ~= "boolean" then -- a boolean field
    return false, "must be true or false (got " .. show(v) .. ")"
  end
  local e = spec.enum
  if e then
    for i = 1, #e do
      if rawequal(e[i], v) then return true, wire end
    end
    return false, enum_message(e, v)
  end
  return true, wire
end

-- True when the boolean field named k (or its alias) is true in obj.
local function flag_set(obj, fields, k)
  if obj[k] == true then return true end
  for i = 1, #fields do
    local f = fields[i]
    if f.name == k and f.alias then return obj[f.alias] == true end
  end
  return false
end

-- A field with required_unless, missing: its message unless a flag it names is true.
local function required_unless(spec, obj, fields)
  local list = spec.required_unless
  if not list then return nil end
  for i = 1, #list do
    if flag_set(obj, fields, list[i]) then return nil end
  end
  return "is required unless " .. concat(list, " or ") .. " is true"
end

-- The value in the wire table under the field's wire names (default: its name).
local function set_wire(wire, spec, name, v)
  local names = spec.wire
  if names then
    for i = 1, #names do wire[names[i]] = v end
  else
    wire[name] = v
  end
end

local function known_key(fields, key)
  for i = 1, #fields do
    local f = fields[i]
    if f.name == key or f.alias == key then return true end
  end
  return false
end

-- Whether obj holds exactly `known` keys (every key one the fields name, when known counts
-- the fields and aliases found in it): a table with a metatable may answer for keys it does
-- not hold, so it is never taken at its word.
local function only_known_keys(obj, known)
  if getmetatable(obj) ~= nil then return false end
  local count = 0
  for _ in next, obj do
    count = count + 1
    if count > known then return false end
  end
  return count == known
end

local function report_unknown(st, obj, fields, prefix, top)
  local names = {}
  for k in next, obj do
    local name
    if type(k) ~= "string" then
      name = "[" .. show(k) .. "]"
    elseif not (known_key(fields, k) or (top and k == "model")) then
      name = k
    end
    if name and #names < UNKNOWN_MAX then names[#names + 1] = cut_nul(name) end
  end
  sort(names, bytewise) -- the order of next is not stable, messages should be
  for i = 1, #names do problem(st, join(prefix, names[i]), "is not a known parameter") end
end

local function check_object(st, obj, fields, prefix, wire)
  local before = st.problems and #st.problems or 0
  -- Keys of obj found under a field's name or alias; at the top, model too unless a field
  -- takes that name (the schema makes names and aliases unique).
  local known, model_named = 0, false
  for i = 1, #fields do
    local spec = fields[i]
    local name, alias = spec.name, spec.alias
    if name == "model" or alias == "model" then model_named = true end
    local v = obj[name]
    if v ~= nil then known = known + 1 end
    local twice = false
    if alias then
      local a = obj[alias]
      if a ~= nil then
        known = known + 1
        if v == nil then
          v = a
        elseif not rawequal(a, v) then
          problem(st, join(prefix, name), format("given twice, as %s and as %s, with different values", name, alias))
          twice = true
        end
      end
    end
    if twice then -- luacheck: ignore 542
    elseif v == nil then
      local msg = spec.required and "is required" or (spec.required_unless and required_unless(spec, obj, fields))
      if msg then
        problem(st, join(prefix, name), msg)
      elseif wire and spec.default ~= nil then
        set_wire(wire, spec, name, spec.default)
      end
    else
      -- What goes on the wire instead of v when that differs: an object's wire table, a file
      -- as a data: URI.
      local tv = type(v)
      local ok, res = check_field(spec, v, tv, wire ~= nil, st.files)
      if ok == "object" then
        if tv == "table" then
          res = wire and {} or nil
          ok = check_object(st, v, spec.fields, join(join(prefix, name), "."), res)
        else
          ok = false
          problem(st, join(prefix, name), "must be a table (got " .. tv .. ")")
        end
      elseif not ok then
        problem(st, join(prefix, name), res)
      end
      if ok and wire then
        if res == nil then res = v end
        set_wire(wire, spec, name, res)
      end
    end
  end
  -- The usual call names only fields: nothing to sort out key by key.
  if not only_known_keys(obj, known + ((prefix == "" and not model_named) and 1 or 0)) then
    report_unknown(st, obj, fields, prefix, prefix == "")
  end
  return (st.problems and #st.problems or 0) == before
end

-- The fast path. A fields list is made once into a Lua function of its own, its names, bounds
-- and enums written in: it says only whether a table passes every rule, and builds the wire
-- table in one constructor (made at its size), without a lookup in the model table per
-- request. Anything it refuses goes to the walk above, which says why, so every message comes
-- from one place; it never passes what the walk refuses (spec/validate_random_spec.lua compares
-- the two). A list too large for one function's upvalues (Lua 5.1 has 60) is left to the walk.
local load = rawget(_G, "loadstring") or load
local HELPERS = "utf8_len, is_url, datauri_check, required_unless, rawequal, type, next, getmetatable, floor, huge"
local MAX_CONSTANTS = 40

local compile
local compiled = setmetatable({}, { __mode = "k" }) -- fields list -> its function, or false

-- Lua code checking field i (f) of obj and leaving its wire value in wi; false when the field
-- cannot be compiled.
local function compile_field(i, f, fields, constant, emit)
  local ty = f.type or "string"
  emit(("v, w = obj[%s], nil"):format(constant(f.name)))
  emit("if v ~= nil then known = known + 1 end")
  if f.alias then
    emit(("a = obj[%s]"):format(constant(f.alias)))
    emit("if a ~= nil then known = known + 1 if v == nil then v = a elseif not rawequal(a, v) then return false end end")
  end
  local absent = {}
  if f.required then absent[1] = "return false" end
  if f.required_unless then
    absent[#absent + 1] = ("if required_unless(%s, obj, %s) then return false end"):format(constant(f), constant(fields))
  end
  if f.default ~= nil then absent[#absent + 1] = ("w%d = %s"):format(i, constant(f.default)) end
  emit("if v == nil then " .. concat(absent, " ") .. " else")
  if ty == "string" then
    emit('if type(v) ~= "string" then return false end')
    emit("n = utf8_len(v)")
    local refused = { "not n" }
    if f.min_length then refused[2] = "n < " .. constant(f.min_length) end
    if f.max_length then refused[#refused + 1] = "n > " .. constant(f.max_length) end
    emit("if " .. concat(refused, " or ") .. " then return false end")
    if f.format then emit("if not is_url(v) then return false end") end
    if f.transform then
      emit(("ok, w = datauri_check(v, %s, build, files)"):format(constant(f.max_bytes or 0)))
      emit("if not ok then return false end")
    end
  elseif ty == "integer" or ty == "number" then
    emit('if type(v) ~= "number" then return false end')
    emit("x = v + 0.0")
    local whole = ty == "integer" and " or x ~= floor(x)" or ""
    emit("if x ~= x or x == huge or x == -huge" .. whole .. " then return false end")
    if ty == "integer" and f.enum == nil then
      emit(("if x > %s or x < -%s then return false end"):format(constant(INT_LIMIT), constant(INT_LIMIT)))
    end
    if f.min then emit("if x < " .. constant(f.min) .. " then return false end") end
    if f.max then emit("if x > " .. constant(f.max) .. " then return false end") end
  elseif ty == "boolean" then
    emit('if type(v) ~= "boolean" then return false end')
  else -- an object
    local inner = compile(f.fields, false)
    if not inner then return false end
    emit('if type(v) ~= "table" then return false end')
    emit(("w = %s(v, build, files) if not w then return false end if not build then w = nil end"):format(constant(inner)))
  end
  if f.enum and ty ~= "object" then
    local set = {}
    for k = 1, #f.enum do set[f.enum[k]] = true end
    emit(("if not %s[v] then return false end"):format(constant(set)))
  end
  emit(("if w == nil then w%d = v else w%d = w end end"):format(i, i))
  return true
end

-- The fast function of a fields list (top: the parameters' own, where model is a key too):
-- fast(obj, build, files[, model]) --> false | true | the wire table (build); nil when the list
-- cannot be made into one.
function compile(fields, top)
  local constants, src, members = {}, {}, { top and "model = model" or nil }
  local function constant(v)
    constants[#constants + 1] = v
    return "k" .. #constants
  end
  local function emit(line) src[#src + 1] = line end
  local model_named = false
  for i = 1, #fields do
    local f = fields[i]
    if f.name == "model" or f.alias == "model" then model_named = true end
    if not compile_field(i, f, fields, constant, emit) then return nil end
    local names = f.wire or { f.name }
    for k = 1, #names do members[#members + 1] = ("[%s] = w%d"):format(constant(names[k]), i) end
  end
  local extra = (top and not model_named) and 1 or 0
  emit("if getmetatable(obj) ~= nil then return false end")
  emit("n = 0")
  emit(("for _ in next, obj do n = n + 1 if n > known + %d then return false end end"):format(extra))
  emit(("if n ~= known + %d then return false end"):format(extra))
  emit("if not build then return true end")
  emit("return { " .. concat(members, ", ") .. " } end")
  if #constants > MAX_CONSTANTS or not load then return nil end -- (a sandbox without load)
  local head, w = { "local K, " .. HELPERS .. " = ..." }, {}
  for i = 1, #constants do head[#head + 1] = ("local k%d = K[%d]"):format(i, i) end
  for i = 1, #fields do w[i] = "w" .. i end
  head[#head + 1] = "return function(obj, build, files, model) local known, v, w, a, n, x, ok = 0"
  if #w > 0 then head[#head + 1] = "local " .. concat(w, ", ") end
  local chunk = load(concat(head, "\n") .. "\n" .. concat(src, "\n"), "=aimlmusic.validate (compiled)")
  if not chunk then return nil end
  return chunk(constants, utf8_len, is_url, datauri_check, required_unless, rawequal, type, next, getmetatable, floor, huge)
end

-- "minimax/music-1.5, minimax/music-2.0": the known model names, sorted.
local function model_names(models)
  local names = {}
  for k in next, models do
    if type(k) == "string" and #names < UNKNOWN_MAX then names[#names + 1] = cut_nul(k) end
  end
  sort(names, bytewise)
  return concat(names, ", ")
end

-- The fast function of a model's fields, made on first use.
local function fast_of(fields)
  local fast = compiled[fields]
  if fast == nil then
    fast = compile(fields, true) or false
    compiled[fields] = fast
  end
  return fast
end

-- The checks: true, or the wire table when build; or nil and the validation error. walk: the
-- walk alone, without the fast path.
local function run(params, models, build, files, walk)
  local model, wire = params.model, nil
  if type(model) == "string" and not walk then -- the fast path first: no state to make for it
    local entry = models[model]
    if type(entry) == "table" then
      schema.ensure(entry, model)
      local fast = fast_of(entry.fields)
      local ok = fast and fast(params, build, files, model)
      if ok then return ok end
    end
  end
  local st = { problems = nil, files = files }
  if model == nil then
    problem(st, "model", "is required")
  elseif type(model) ~= "string" then
    problem(st, "model", "must be a string (got " .. type(model) .. ")")
  else
    local entry = models[model]
    if type(entry) ~= "table" then
      problem(st, "model", format('unknown model "%s" (known: %s)', cut_nul(model), model_names(models)))
    else
      schema.ensure(entry, model)
      local fields = entry.fields
      if build then wire = { model = model } end
      check_object(st, params, fields, "", wire)
    end
  end
  local list = st.problems
  if not list then return wire or true end
  -- "invalid parameters: prompt: must be ...; lyrics: is required"
  local parts = {}
  for i = 1, #list do parts[i] = list[i].field .. ": " .. list[i].message end
  return nil, errors.new("validation", cut_nul("invalid parameters: " .. concat(parts, "; ")), { fields = list })
end

-- The walk alone (true, or the wire table when build; or nil and the validation error): what
-- the fast path is held to by spec/validate_random_spec.lua.
function M.walk(params, models, build, files)
  return run(params, models, build, files, true)
end

--- Makes every model's checking function now (the module does when it loads), so that the
-- first request of a model costs a host's frame no more than the next.
function M.prepare(models)
  for _, entry in next, models do
    if type(entry) == "table" and type(entry.fields) == "table" then fast_of(entry.fields) end
  end
end

--- true, or nil and an error of kind "validation" listing every problem in err.fields.
function M.validate(params, models)
  return run(params, models, false)
end

--- The JSON body of a valid request, or nil and the validation error. files: the local files
-- a task read ahead on a worker (path -> data URI, or {message}); a file not there is read in
-- place (outside a task, where blocking is the API's promise).
function M.encode(params, models, files)
  local wire, err = run(params, models, true, files)
  if not wire then return nil, err end
  local body, msg = json_encode(wire)
  if not body then return nil, errors.new("validation", msg) end
  return body
end

return M
