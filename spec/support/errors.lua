-- spec/support/errors.lua: what every error of the library must look like.
--
--   local assert_error = require("support.errors").assert_error
--   assert_error(err, "timeout")

local assert = require "luassert"

local M = {}

--- err is an error of the library, of that kind, with a one-line tostring, a message and a
-- boolean retryable.
function M.assert_error(err, kind)
  local music = require "aimlmusic"
  assert.is_true(music.is_error(err), "not an aimlmusic error: " .. tostring(err))
  assert.equal(kind, err.kind, tostring(err))
  assert.is_boolean(err.retryable)
  assert.is_string(err.message)
  assert.not_matches("\n", tostring(err))
end

return M
