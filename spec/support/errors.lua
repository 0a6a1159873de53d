-- spec/support/errors.lua: what every error of the library must look like.
--
--   local assert_error = require("support.errors").assert_error
--   assert_error(err, "timeout")
--   local err, took = errors.times_out(function() return client:wait(job, { timeout = 1 }) end)

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

--- Calls fn, which must return nil and an error of kind timeout; returns that error and the
-- seconds fn took.
function M.times_out(fn)
  local now = require("aimlmusic.core").now
  local t0 = now()
  local st, err = fn()
  local took = now() - t0
  assert.is_nil(st)
  M.assert_error(err, "timeout")
  return err, took
end

return M
