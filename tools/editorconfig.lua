-- tools/editorconfig.lua FILE...: checks Lua files against .editorconfig's rules, with no
-- formatter to lean on: a final newline, no trailing whitespace, indentation by spaces, and
-- blocks indented by two (the line after one ending in `then`, `do`, `else`, `repeat`,
-- `function (...)` or `{` is two spaces in from where its statement began or from that line,
-- or closes the block). Lines that go on a statement may align as they like; text inside long
-- strings and long comments is not code. Prints each problem as FILE:LINE: message and exits
-- 1 when there is one. Runs on Lua 5.1 to 5.4 and LuaJIT.

local problems = 0

local function report(path, n, msg)
  io.stdout:write(("%s:%d: %s\n"):format(path, n, msg))
  problems = problems + 1
end

-- Where a long bracket opened on this line ([[, [==[, --[[) stays open: its closing bracket, or nil.
local function open_long(line, closing)
  local pos = 1
  while true do
    if closing then
      local e = line:find(closing, pos, true)
      if not e then return closing end
      pos = e + #closing
    end
    local s, e, eq = line:find("%[(=*)%[", pos)
    if not s then return nil end
    -- A bracket inside a short string or after a line comment does not open anything.
    local before = line:sub(pos, s - 1)
    local _, quotes = (" " .. before):gsub('[^\\]"', "")
    local comment = before:find("%-%-") and not before:find("%-%-$")
    if quotes % 2 == 1 or comment then return nil end
    closing, pos = "]" .. eq .. "]", e + 1
  end
end

local function opens_block(code)
  code = code:gsub("%s*%-%-.*$", "")
  if code:match("%f[%w_]function%s*[%w_.:]*%s*%b()$") then return true end
  if code:match("%f[%w_]then$") or code:match("%f[%w_]do$") or code:match("%f[%w_]else$")
    or code:match("%f[%w_]repeat$") or code:match("{$") then
    return true
  end
  return false
end

-- The change in open brackets ( [ { over code, strings left out.
local function paren_change(code)
  code = code:gsub('\\.', ""):gsub('"[^"]*"', ""):gsub("'[^']*'", "")
  local _, opened = code:gsub("[%(%[{]", "")
  local _, closed = code:gsub("[%)%]}]", "")
  return opened - closed
end

-- Whether a line goes on with the statement of the line before (prev: that line's code;
-- depth: the parentheses open at the start of the line).
local function continues(prev, code, depth)
  return depth > 0 or prev:match("%.%.$") or prev:match("[=+%-*/<>]$")
    or prev:match("%f[%w_]and$") or prev:match("%f[%w_]or$") or prev:match("%f[%w_]not$")
    or code:match("^and%f[^%w_]") or code:match("^or%f[^%w_]") or code:match("^%.%.")
end

local function closes_block(code)
  return code:match("^end%f[^%w_]") or code:match("^}") or code:match("^until%f[^%w_]")
    or code:match("^else%f[^%w_]") or code:match("^elseif%f[^%w_]") or code:match("^%)")
end

for _, path in ipairs(arg) do
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local last = select(2, text:gsub("\n", "")) + 1 -- the number of the last line
  if #text > 0 and text:sub(-1) ~= "\n" then report(path, last, "no newline at the end") end
  local closing, expect, n = nil, nil, 0
  local prev, start, depth = "", 0, 0 -- the last code line, where its statement began, open parentheses
  local accept = {} -- the indents the next code line may have, when a block opened
  local stack = {}  -- the parentheses open outside each enclosing block
  for line in text:gmatch("([^\n]*)\n?") do
    n = n + 1
    if n > last then break end
    if line:match("[ \t\r]+$") then report(path, n, "trailing whitespace") end
    local in_long = closing ~= nil
    if not in_long then
      local indent = line:match("^[ \t]*")
      if indent:find("\t") then report(path, n, "a tab in the indentation") end
      local code = line:sub(#indent + 1)
      if code ~= "" and not code:match("^%-%-") then
        if expect and not accept[#indent] and not (closes_block(code) and accept[#indent + 2]) then
          report(path, n, ("indented by %d, the block by %d"):format(#indent, expect))
        end
        code = code:gsub("%s*%-%-.*$", "")
        -- Parentheses open around a block (describe("x", function() ... end)) are the
        -- enclosing statement's: each block counts its own.
        if closes_block(code) and #stack > 0 then depth = table.remove(stack) end
        if not continues(prev, code, depth) then start = #indent end
        depth = math.max(0, depth + paren_change(code))
        if opens_block(code) then
          stack[#stack + 1] = depth
          depth = 0
        end
        -- A block is two in from where its statement began, or from the line that opens it.
        expect = opens_block(code) and start + 2 or nil
        accept = expect and { [expect] = true, [#indent + 2] = true } or {}
        prev = code
      end
    end
    closing = open_long(line, closing)
    if closing then expect, accept = nil, {} end
  end
end

os.exit(problems == 0 and 0 or 1)
