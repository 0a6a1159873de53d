-- The search of an answer for the key, against a search written the slow, obvious way: for a
-- key of 16 bytes or more, any 8 bytes of it in a row (in any case) or any 10 digits of its
-- base64 (at any alignment, either alphabet) give it away. Answers without escapes or percent
-- signs, as the API sends them, are searched in one sampled pass first: it must never miss.

local response = require "aimlmusic.response"
local base64 = require("aimlmusic.mock.faults").base64

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- The base64 digits (values) of key shifted by a zero bytes that depend on the key alone.
local function key_digits(key, a)
  local enc = base64(("\0"):rep(a) .. key .. "\0\0"):gsub("=", "")
  local first, last = math.floor((8 * a + 5) / 6), math.floor((8 * (a + #key) - 6) / 6)
  local out = {}
  for j = first, last do out[#out + 1] = B64:find(enc:sub(j + 1, j + 1), 1, true) end
  return out
end

-- Whether text gives the key away, by brute force.
local function gives_away(key, text)
  local folded, k = text:lower(), key:lower()
  for i = 1, #k - 7 do
    if folded:find(k:sub(i, i + 7), 1, true) then return true end
  end
  local digits = {}
  for i = 1, #text do
    local c = text:sub(i, i):gsub("%-", "+"):gsub("_", "/")
    digits[i] = B64:find(c, 1, true)
  end
  for a = 0, 2 do
    local kd = key_digits(key, a)
    for i = 1, #kd - 9 do
      for s = 1, #text - 9 do
        local j = 0
        while j < 10 and digits[s + j] and digits[s + j] == kd[i + j] do j = j + 1 end
        if j == 10 then return true end
      end
    end
  end
  return false
end

describe("the search of an answer for the key", function()
  it("finds exactly what the obvious search finds (1000 random answers)", function()
    local seed = os.time()
    math.randomseed(seed)
    local ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    local FILL = ALNUM .. "-_ :/.=+,"
    local function pick(s) local i = math.random(#s) return s:sub(i, i) end
    local function random_case(s)
      return (s:gsub("%a", function(c) return math.random(2) == 1 and c:upper() or c:lower() end))
    end
    local found = 0
    for case = 1, 1000 do
      local key = {}
      for i = 1, math.random(16, 40) do key[i] = pick(ALNUM) end
      key = table.concat(key)
      local parts = {}
      for _ = 1, math.random(0, 5) do
        local from = math.random(1, #key - 3)
        local r = math.random(6)
        local piece
        if r <= 2 then -- 4 to 9 bytes: near misses and pieces
          piece = random_case(key:sub(from, from + math.random(3, 8)))
        elseif r == 3 then
          piece = base64(("x"):rep(math.random(0, 2)) .. key:sub(from, from + math.random(5, 12)))
          if math.random(2) == 1 then piece = piece:gsub("[+/]", { ["+"] = "-", ["/"] = "_" }) end
        else
          piece = {}
          for i = 1, math.random(0, 20) do piece[i] = pick(FILL) end
          piece = table.concat(piece)
        end
        parts[#parts + 1] = piece
      end
      local text = table.concat(parts)
      local body = '{"id":"e84c6bd4:minimax/music-2.0","status":"queued","t":"' .. text .. '"}'
      local st = assert(response.classify("status", 200, body, nil, key))
      local want = gives_away(key, text)
      local redacted = st.raw.t ~= text
      if want then found = found + 1 end
      assert(want == redacted, ("seed %d, case %d: key %q, text %q: %s"):format(seed, case, key, text,
        want and "not redacted" or "redacted"))
    end
    assert.is_true(found > 50, "too few answers held the key: " .. found)
  end)
end)
