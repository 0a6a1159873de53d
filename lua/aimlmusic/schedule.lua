--- When wait() asks for a job's status, unless an interval is given: no poll before the
-- earliest a job of the same model is expected to finish, then polls a little apart (a tenth
-- of the model's typical duration), sparser again far past it. Both figures are learned
-- from the client's own finished jobs, per model; before any, from the service's documented
-- 50-90 s, or from the client's expected_seconds = {earliest, typical}. A job whose start this
-- client did not see is polled at once, then densely.
-- A client of a server on this machine (the mock: localhost, 127.0.0.0/8, [::1]) has no
-- documented durations to go by: it polls from the start, every DENSE_MIN seconds. Such a
-- client, and one given expected_seconds, takes what its first finished job of a model shows
-- at once instead of waiting for CONFIDENT of them.

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local min, max, sort = math.min, math.max, table.sort

local PRIOR_EARLIEST = 45  -- seconds: 0.9 x the documented shortest (50-90 s)
local PRIOR_TYPICAL = 60   -- seconds
local DENSE = 0.1          -- share of the typical duration between polls near it
local DENSE_MIN, DENSE_MAX = 0.5, 10
local TAIL_MAX = 15        -- seconds between polls long past the typical duration
local KEEP = 16            -- durations remembered per model
local CONFIDENT = 5        -- durations needed before they may move the first poll later
local LOCAL_PRIOR = { 0, 1 } -- seconds: a server on this machine, before any job finished

local Schedule = {}
Schedule.__index = Schedule

local M = {}

-- True when url's host is this machine: localhost, 127.0.0.0/8 or [::1].
local function loopback(url)
  local host = type(url) == "string" and url:match("^%a[%w+.-]*://([^/?#]+)") or nil
  if not host then return false end
  host = host:gsub("^.*@", ""):lower()
  if host:match("^%[::1%]") then return true end
  host = host:gsub(":%d*$", "")
  return host == "localhost" or host:match("%.localhost$") ~= nil or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end
M.loopback = loopback

--- A schedule; prior = {earliest, typical} seconds before any job finished (the client's
-- expected_seconds; default 45, 60, or 0, 1 when base_url is on this machine).
function M.new(prior, base_url)
  local quick = prior ~= nil or loopback(base_url)
  prior = prior or (quick and LOCAL_PRIOR) or {}
  return setmetatable({ by_model = {}, earliest = prior[1] or PRIOR_EARLIEST, typical = prior[2] or PRIOR_TYPICAL,
    confident = quick and 1 or CONFIDENT }, Schedule)
end

-- earliest, typical (seconds) for a model, from what was learned and the prior.
function Schedule:estimate(model)
  local seen = self.by_model[model or ""]
  if not seen or #seen == 0 then return self.earliest, self.typical end
  local s = {}
  for i = 1, #seen do s[i] = seen[i] end
  sort(s)
  local earliest, typical = 0.9 * s[1], s[math.floor((#s + 1) / 2)]
  if #s < self.confident then
    -- A few fast jobs may move the first poll earlier; only many may move it later.
    earliest, typical = min(earliest, self.earliest), min(typical, self.typical)
  end
  return earliest, typical
end

--- Seconds to wait before the next status poll of a job of model, elapsed seconds after its
--- submit (nil when this client did not see the submit).
function Schedule:delay(model, elapsed)
  local earliest, typical = self:estimate(model)
  local dense = max(DENSE_MIN, min(DENSE_MAX, DENSE * typical))
  if elapsed == nil then return dense end
  if elapsed < earliest then return earliest - elapsed end
  if elapsed > 2 * typical then return max(dense, min(TAIL_MAX, 2 * dense)) end
  return dense
end

--- Learns that a job of model completed after more than `after` and at most `by` seconds.
function Schedule:learn(model, after, by)
  local key = model or ""
  local seen = self.by_model[key]
  if not seen then
    seen = {}
    self.by_model[key] = seen
  end
  -- Completed at the first poll: only an upper bound, which the next first poll undercuts.
  local d = after and (after + by) / 2 or by
  seen[#seen + 1] = d
  if #seen > KEEP then table.remove(seen, 1) end
end

return M
