-- The answers' decoder, the core's own JSON (src/json.c), beside lua-cjson: st.raw is exactly
-- what lua-cjson makes of the body, and a text lua-cjson refuses is refused, with where and why.
-- The few texts lua-cjson takes that RFC 8259 does not ("1.", ".5") are refused.

local response = require "aimlmusic.response"
-- lua-cjson with the limits the core keeps.
local cjson = require("cjson").new()
cjson.decode_max_depth(64)
cjson.decode_invalid_numbers(false)

local math_type = math.type -- luacheck: ignore 143 (Lua 5.3 and later)

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
