-- aimlmusic.json, the core's own JSON codec (src/json.c) that the journal, the command line and
-- the mock use, beside lua-cjson as the reference: what it writes decodes to what was given,
-- what lua-cjson writes it reads the same, and what it cannot write or read is refused with why.

local json = require "aimlmusic.json"
local cjson = require("cjson").new()
cjson.decode_max_depth(64)
cjson.decode_invalid_numbers(false)
cjson.encode_invalid_numbers(false)

local function near(a, b)
  return a == b or math.abs(a - b) <= 1e-12 * math.abs(a)
end

-- Equal values (numbers to 14 digits, as lua-cjson writes them).
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then return near(a, b) end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local PIECES = { "a", '"', "\\", "/", "\n", "\0", "\31", "\127", "é", "\226\128\168", "\240\159\142\181", "\255",
                 " ", "u" }

local function random_string()
  local t = {}
  for i = 1, math.random(0, 8) do t[i] = PIECES[math.random(#PIECES)] end
  return table.concat(t)
end

local function random_value(depth)
  local r = math.random(depth > 3 and 5 or 7)
  if r == 1 then return random_string() end
  if r == 2 then return math.random() < 0.5 end
  if r == 3 then return json.null end
  if r == 4 then return ({ math.random(-1e6, 1e6), math.random() * 10 ^ math.random(-20, 20), 0.1, 2 ^ 52 + 1,
                           -(2 ^ 40) })[math.random(5)] end
  if r == 5 then return math.random(0, 1000) + 0.0 end
  local t = {}
  if r == 6 then
    for i = 1, math.random(1, 4) do t[i] = random_value(depth + 1) end
  else
    for _ = 1, math.random(0, 4) do t[random_string()] = random_value(depth + 1) end
  end
  return t
end

describe("aimlmusic.json", function()
  it("null is lua-cjson's null", function()
    assert.equal(cjson.null, json.null)
    assert.equal(json.null, require("aimlmusic").null) -- music.null, for st.raw
    assert.equal(json.null, json.decode("null"))
    assert.equal("[null]", json.encode({ json.null }))
  end)

  it("writes arrays, objects, escapes and numbers", function()
    assert.equal("[1,2,3]", json.encode({ 1, 2, 3 }))
    assert.equal("{}", json.encode({}))
    assert.equal('{"a":[true,false,"x/y"]}', json.encode({ a = { true, false, "x/y" } }))
    assert.equal('"\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\\u007f é"', json.encode('"\\\b\f\n\r\t\0\31\127 é'))
    assert.equal("0.1", json.encode(0.1))
    assert.equal("-3", json.encode(-3.0))
    assert.equal("9007199254740992", json.encode(2 ^ 53)) -- whole numbers to 2^53 exactly
    assert.equal("123456789012345", json.encode(123456789012345))
    assert.equal("1e+300", json.encode(1e300))
    assert.equal("[1,2]", json.encode({ [2] = 2, [1] = 1 }))
  end)

  it("escapes each byte wherever it falls in the eight bytes tested at once", function()
    local short = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
                    ["\r"] = "\\r", ["\t"] = "\\t" }
    local function reference(s) -- byte by byte
      return '"' .. s:gsub("[%z\1-\31\"\\\127]", function(c)
        return short[c] or ("\\u%04x"):format(c:byte())
      end) .. '"'
    end
    for b = 0, 255 do
      for len = 1, 25 do
        for at = 1, len, (len > 9 and 3 or 1) do
          local s = ("a"):rep(at - 1) .. string.char(b) .. ("b"):rep(len - at)
          assert.equal(reference(s), json.encode(s), ("byte %d at %d of %d"):format(b, at, len))
        end
      end
    end
  end)

  it("refuses what JSON cannot hold, saying why", function()
    for _, v in ipairs {
      { 0 / 0, "NaN" }, { math.huge, "NaN or an infinity" }, { { f = print }, "type" },
      { { [1] = "a", [3] = "c" }, "neither 1..n nor strings" }, { { [true] = 1 }, "not a string" },
    } do
      local ok, err = pcall(json.encode, v[1])
      assert.is_false(ok)
      assert.truthy(tostring(err):find(v[2], 1, true), tostring(err))
    end
    local loop = {}
    loop.self = loop
    local ok, err = pcall(json.encode, loop)
    assert.is_false(ok)
    assert.matches("nested too deep", err)
  end)

  it("refuses what is not JSON, saying what and where", function()
    for text, want in pairs {
      [""] = "expected a value at byte 1", ["[1,]"] = "expected a value at byte 4",
      ['{"a" 1}'] = "expected ':' at byte 6", ["[1 2]"] = "expected ',' or ']' at byte 4",
      ['"\\ud800"'] = "lone surrogate in a \\u escape at byte 2", ["1 x"] = "text after the value at byte 3",
      ['"abc'] = "unfinished string at byte 5", ["01"] = "text after the value at byte 2",
      [("["):rep(65) .. ("]"):rep(65)] = "nested too deep at byte 65",
    } do
      local ok, err = pcall(json.decode, text)
      assert.is_false(ok, text)
      assert.truthy(tostring(err):find(want, 1, true), text .. ": " .. tostring(err))
    end
  end)

  it("round-trips random values, and reads what lua-cjson writes", function()
    local seed = os.time()
    math.randomseed(seed)
    for _ = 1, 5000 do
      local v = random_value(0)
      local text = json.encode(v)
      assert(same(v, cjson.decode(text)), "seed " .. seed .. ": " .. text)
      assert(same(cjson.decode(text), json.decode(text)), "seed " .. seed .. ": " .. text)
      local theirs = cjson.encode(v)
      assert(same(cjson.decode(theirs), json.decode(theirs)), "seed " .. seed .. ": " .. theirs)
    end
  end)
end)
