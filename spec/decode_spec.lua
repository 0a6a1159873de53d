-- The answers' decoder, the core's own JSON (src/json.c), beside lua-cjson: st.raw is exactly
-- what lua-cjson makes of the body, and a text lua-cjson refuses is refused, with where and why.
-- The few texts lua-cjson takes that RFC 8259 does not ("1.", ".5") are refused.

local response = require "aimlmusic.response"
-- lua-cjson with the limits the core keeps.
local cjson = require("cjson").new()
cjson.decode_max_depth(64)
cjson.decode_invalid_numbers(false)

local math_type = math.type -- luacheck: ignore 143 (Lua 5.3 and later)
local math_tointeger = math.tointeger -- luacheck: ignore 143

-- Equal values, numbers of the same subtype (float or integer), null the same null.
local function same(a, b, path)
  if type(a) ~= type(b) then return false, path .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) == "number" then
    local ta, tb = math_type and math_type(a), math_type and math_type(b)
    if ta ~= tb then return false, path .. ": " .. tostring(ta) .. " vs " .. tostring(tb) end
    if a ~= b and not (a ~= a and b ~= b) then return false, path .. ": " .. a .. " vs " .. b end
    if a == 0 and 1 / a ~= 1 / b then return false, path .. ": the sign of zero" end
    return true
  end
  if type(a) ~= "table" then
    if a ~= b then return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
    return true
  end
  if getmetatable(a) ~= getmetatable(b) then return false, path .. ": metatables" end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. "." .. tostring(k) .. ": missing" end
  end
  return true
end

-- The body decoded by the core, as st.raw (under "x" of a status answer).
local function raw_of(x)
  local body = '{"id":"a:minimax/music-2.0","status":"queued","x":' .. x .. "}"
  local st, err = response.classify("status", 200, body)
  return st, err, body
end

-- lua-cjson takes these, JSON's grammar does not.
local NOT_JSON = { ["1."] = true, [".5"] = true }

local function check(x)
  local st, err, body = raw_of(x)
  local ok, want = pcall(cjson.decode, body)
  if not ok or NOT_JSON[x] then
    assert.is_nil(st, x)
    assert.equal("protocol", err.kind, x)
    assert.matches("^response is not JSON: [%w ',:{}%[%]\\]+ at byte %d+$", err.message, nil, false, x)
    return
  end
  assert.is_table(st, x)
  local equal, why = same(st.raw, want, "raw")
  assert(equal, x .. ": " .. tostring(why))
end

describe("decoding answers", function()
  it("makes what lua-cjson makes of JSON", function()
    for _, x in ipairs {
      "1", "-1", "0", "-0", "0.5", "-0.5", "1e3", "1E+3", "2.5e-3", "123456789012345", "1234567890123456",
      "12345678901234567890", "9007199254740993", "1e400", "-1e400", "1e-400", "0.1", "3.14159265358979",
      '""', '"a b"', '"é € 🎵"', '"\1\31"', "true", "false", "null", "[]", "{}", "[1,[2,[3]],{}]",
      '{"a":1,"a":2}', '{"a":null,"b":[null,null]}', ' { "k" : [ 1 , 2 ] , "m" : { } } ',
      '{"":""}', '["a",1,true,false,null,{"b":{"c":[]}}]', "\t\r\n 1 \n",
    } do
      check(x)
    end
  end)

  it("decodes escapes as lua-cjson does, and refuses what it refuses, saying where", function()
    for _, x in ipairs {
      '"\\/\\\\\\b\\f\\n\\r\\t"', '"\\ud800"', '"\\udc00"', '"\\ud800\\u0041"', '"\\u00"', '"\\x"', '"a\\',
      '"a\\"b"', '"\\u00e9"', '"\\ud83c\\udfb5"', "01", "1.", "+1", ".5", "1e", "-", "--1", "0x10", "inf",
      "nan", "NaN", "Infinity", "tru", "nul", "[1,]", "[1 2]", '{"a" 1}', '{"a":1,}', "{1:2}", "[", "]", "{",
      '"abc', "[1]x", "",
    } do
      check(x)
    end
  end)

  it("agrees at the depth limit and past it", function()
    for _, depth in ipairs { 1, 62, 63, 64, 65, 200 } do
      check(("["):rep(depth - 1) .. "1" .. ("]"):rep(depth - 1))
      check(('{"a":'):rep(depth - 1) .. "1" .. ("}"):rep(depth - 1))
    end
  end)

  it("agrees on random documents", function()
    local seed = os.time()
    math.randomseed(seed)
    local atoms = { "0", "-0", "7", "-12.5e3", "1e-7", "123456789012345678", '"s"', '""', '"x y"', "true", "false",
                    "null", '"\\n"', "01", " " }
    local function gen(depth)
      local r = math.random(depth > 4 and 1 or 10)
      if r <= 6 then return atoms[math.random(#atoms)] end
      local n, parts = math.random(0, 4), {}
      if r <= 8 then
        for i = 1, n do parts[i] = gen(depth + 1) end
        return "[" .. table.concat(parts, math.random(4) == 1 and " , " or ",") .. "]"
      end
      for i = 1, n do parts[i] = '"' .. string.char(96 + math.random(4)) .. '":' .. gen(depth + 1) end
      return "{" .. table.concat(parts, ",") .. "}"
    end
    for _ = 1, 2000 do
      local x = gen(0)
      local ok, err = pcall(check, x)
      assert(ok, "seed " .. seed .. ": " .. tostring(err))
    end
  end)
end)

-- A status answer's table, as the C walk over lua-cjson's tables made it before the fields were
-- picked from the text in one pass (src/json.c json_pick): the reference the core must agree with.
local function want_st(body, map)
  local null = cjson.null
  if type(body) ~= "table" then return nil, "response is not a JSON object" end
  if type(body.id) ~= "string" then return nil, "response has no string id" end
  if type(body.status) ~= "string" then return nil, "response has no string status" end
  local st = { id = body.id, status = body.status }
  local af = body.audio_file
  if type(af) == "table" then
    if type(af.url) == "string" then
      if not (af.url:sub(1, 8) == "https://" or af.url:sub(1, 7) == "http://") then
        return nil, "audio_file.url is not an http(s) URL"
      end
      st.url = af.url
    elseif af.url ~= nil and af.url ~= null then
      return nil, "audio_file.url is not a string"
    end
  elseif af ~= nil and af ~= null then
    return nil, "audio_file is not an object"
  end
  if not st.url and st.status == "completed" then return nil, "job completed without audio_file.url" end
  local function at(path)
    local v = body
    for step in (path .. "."):gmatch("([^.]*)%.") do
      if type(v) ~= "table" then return nil end
      v = v[step]
    end
    return v
  end
  local function put(to, v, want)
    if (type(v) == "number" or type(v) == "string") and (not want or type(v) == want) then
      if type(v) == "number" and v == math.floor(v) and v >= -9e15 and v <= 9e15 then
        v = math_tointeger and math_tointeger(v) or v
      end
      st[to] = v
    end
  end
  for _, m in ipairs(map or {}) do put(m.to, at(m.from)) end
  put("credits_used", at("meta.usage.credits_used"), "number")
  put("trace_id", at("trace_id"), "string")
  if type(body.error) == "table" then
    st.error = {}
    put("name", body.error.name, "string")
    st.error.name, st.name = st.name, nil
    put("message", body.error.message, "string")
    st.error.message, st.message = st.message, nil
  end
  return st
end

describe("reading a status answer's fields", function()
  local MAP = { { from = "extra_info.music_duration", to = "duration_ms" }, { from = "extra_info.bitrate", to = "bitrate" },
                { from = "audio_file.file_name", to = "file_name" }, { from = "a.b.c.d", to = "deep" },
                { from = "extra_info", to = "whole" } }

  -- The core's table for body against the reference, raw aside; raw against lua-cjson.
  local function agree(body, map, label)
    local st, err = response.classify("status", 200, body, map)
    local ok, decoded = pcall(cjson.decode, body)
    assert(ok, label .. ": the generator made a text lua-cjson refuses")
    local want, why = want_st(decoded, map)
    if not want then
      assert(st == nil and err.kind == "protocol", label .. ": expected " .. why)
      assert.equal(why, err.message, label)
      return
    end
    assert(st, label .. ": " .. tostring(err and err.message))
    local raw = rawget(st, "raw")
    assert.is_nil(raw, label .. ": raw is made only when read")
    local equal, why2 = same(st.raw, decoded, "raw")
    assert(equal, label .. ": " .. tostring(why2))
    assert.equal(st.raw, rawget(st, "raw"), label .. ": raw is kept once made")
    local fields = {}
    for k, v in pairs(st) do fields[k] = v end
    fields.raw = nil
    equal, why2 = same(fields, want, "st")
    assert(equal, label .. ": " .. tostring(why2))
  end

  it("agrees with the walk over the decoded tables on random answers", function()
    local seed = os.time()
    math.randomseed(seed)
    local values = { '"completed"', '"queued"', '"https://cdn.example/a.mp3"', '"http://x/y"', '"ftp://x"', "7",
                     "2000.0", "-1.5", "12345678901234567", "true", "null", "[]", '["u"]', "{}", '""' }
    local keys = { "id", "status", "audio_file", "url", "file_name", "extra_info", "music_duration", "bitrate",
                   "meta", "usage", "credits_used", "trace_id", "error", "name", "message", "a", "b", "c", "d",
                   "\\u0075rl", "st\\u0061tus", "x.y", "" }
    local function gen(depth)
      if depth > 4 or math.random(3) == 1 then return values[math.random(#values)] end
      if math.random(5) == 1 then return "[" .. gen(depth + 1) .. "," .. gen(depth + 1) .. "]" end
      local parts = {}
      for i = 1, math.random(0, 5) do parts[i] = '"' .. keys[math.random(#keys)] .. '":' .. gen(depth + 1) end
      return "{" .. table.concat(parts, math.random(3) == 1 and " ,\n " or ",") .. "}"
    end
    for i = 1, 3000 do
      local parts = { '"id":"j' .. i .. '"', '"status":' .. (math.random(4) == 1 and gen(3) or '"queued"') }
      for _ = 1, math.random(0, 6) do parts[#parts + 1] = '"' .. keys[math.random(#keys)] .. '":' .. gen(1) end
      for k = #parts, 2, -1 do -- any order, duplicates included
        local j = math.random(k)
        parts[k], parts[j] = parts[j], parts[k]
      end
      agree("{" .. table.concat(parts, ",") .. "}", math.random(2) == 1 and MAP or nil, "seed " .. seed .. " #" .. i)
    end
  end)

  it("keeps each table's own text until its raw is read, and lets the text go with the table", function()
    local first = assert(response.classify("status", 200, '{"id":"j0","status":"queued"}'))
    local texts = getmetatable(first)[1] -- one metatable for all; its texts by table
    local function count() -- after a full collection: texts whose table is gone go too
      collectgarbage()
      collectgarbage()
      local n = 0
      for _ in pairs(texts) do n = n + 1 end
      return n
    end
    local base = count() -- first's, and any a case before still holds
    local sts = {}
    for i = 1, 50 do
      sts[i] = assert(response.classify("status", 200, '{"id":"j' .. i .. '","status":"queued","n":' .. i .. "}"))
    end
    assert.equal(getmetatable(first), getmetatable(sts[50]))
    assert.equal(base + 50, count())
    for i = 50, 26, -1 do -- read in another order than made
      assert.same({ id = "j" .. i, status = "queued", n = i }, sts[i].raw)
      assert.equal(sts[i].raw, rawget(sts[i], "raw"))
    end
    assert.equal(base + 25, count()) -- a text is dropped once decoded
    for i = 26, 50 do sts[i] = nil end
    for i = 1, 25, 2 do sts[i] = nil end
    assert.equal(base + 12, count()) -- and goes with its table
    for i = 2, 24, 2 do assert.equal(i, sts[i].raw.n) end
    assert.equal(base, count())
    assert.same({ id = "j0", status = "queued" }, first.raw)
  end)

  it("refuses the answers the decoder refuses, a number too long for it included", function()
    for _, x in ipairs { "1." .. ("0"):rep(400), ("9"):rep(400), "[1,]", '"\\x"', '{"a":1 "b":2}' } do
      local st, err = response.classify("status", 200, '{"id":"a","status":"queued","x":' .. x .. "}", MAP)
      assert.is_nil(st, x)
      assert.matches("^response is not JSON: .* at byte %d+$", err.message, nil, false, x)
    end
  end)

  it("keeps the last of duplicate keys, even one that replaces an object", function()
    agree('{"id":"a","status":"completed","audio_file":{"url":"https://x/1"},"audio_file":{"url":"https://x/2"}}',
          MAP, "last object")
    agree('{"id":"a","status":"queued","extra_info":{"bitrate":1},"extra_info":5}', MAP, "object then number")
    agree('{"id":"a","status":"queued","extra_info":{"bitrate":1},"extra_info":{"music_duration":2}}', MAP,
          "object then object")
    agree('{"id":"a","status":"completed","audio_file":{"url":"https://x/1"},"audio_file":[{"url":"https://x/2"}]}',
          MAP, "object then array")
    agree('{"id":"a","status":"queued","extra_info.bitrate":3,"id":"b"}', MAP, "a dotted key is one key")
  end)
end)
