-- Inputs the fuzzer once broke the core with (fuzz/regressions/), replayed through the same
-- entry points as fuzz/fuzz_core.c: under `make asan` a memory error here fails the run.

local response = require "aimlmusic.response"
local lfs = require "lfs"
local util = require "support.util"

local KINDS = { "submit", "status", "download" }
local STATUSES = { 200, 201, 204, 299, 400, 401, 402, 403, 404, 408, 422, 429, 500, 502, 503, 504, 302, 418 }

describe("fuzz regressions", function()
  local files = {}
  for name in lfs.dir("fuzz/regressions") do
    if name:sub(1, 1) ~= "." then files[#files + 1] = name end
  end
  table.sort(files)

  it("has inputs to replay", function()
    assert.is_true(#files > 0)
  end)

  for _, name in ipairs(files) do
    it("classifies " .. name .. " without a crash or a raise", function()
      local data = assert(util.read_file("fuzz/regressions/" .. name), "cannot read fuzz/regressions/" .. name)
      assert.equal(0, data:byte(1) % 2, "classifier input")
      local kind = KINDS[data:byte(2) % 3 + 1]
      local status = STATUSES[data:byte(3) % #STATUSES + 1]
      local ok, res, err = pcall(response.classify, kind, status, data:sub(4))
      assert.is_true(ok, tostring(res))
      local e = res == nil and err or nil
      if e then assert.is_string(tostring(e)) end
    end)
  end

  it("joins a provider's message list into one message", function()
    local body = '{"statusCode":400,"message":["' .. ("a"):rep(2000) .. '","' .. ("b"):rep(2000) .. '"]}'
    local st, err = response.classify("submit", 400, body)
    assert.is_nil(st)
    assert.equal(("a"):rep(2000) .. "; " .. ("b"):rep(2000), err.message)
  end)
end)
