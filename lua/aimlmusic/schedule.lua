--- When wait() asks for a job's status, unless an interval is given: no poll before the
-- earliest a job of the same model is expected to finish, then polls a little apart (a tenth
-- of the model's typical duration), sparser again far past it. Both figures are learned
-- from the client's own finished jobs, per model; before any, from the service's documented
-- 50-90 s, or from the client's expected_seconds = {earliest, typical}. A job whose start this
-- client did not see is polled at once, then densely.

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local min, max, sort = math.min, math.max, table.sort

local PRIOR_EARLIEST = 45  -- seconds: 0.9 x the documented shortest (50-90 s)
local PRIOR_TYPICAL = 60   -- seconds
local DENSE = 0.1          -- share of the typical duration between polls near it
local DENSE_MIN, DENSE_MAX = 0.5, 10
local TAIL_MAX = 15        -- seconds between polls long past the typical duration
local KEEP = 16            -- durations remembered per model
local CONFIDENT = 5        -- durations needed before they may move the first poll later

local Schedule = {}
Schedule.__index = Schedule

local M = {}

--- A schedule; prior = {earliest, typical} seconds before any job finished (default 40, 60).
function M.new(prior)
  prior = prior or {}
  return setmetatable({ by_model = {}, earliest = prior[1] or PRIOR_EARLIEST, typical = prior[2] or PRIOR_TYPICAL },
    Schedule)
end

-- earliest, typical (seconds) for a model, from what was learned and the prior.
function Schedule:estimate(model)
  local seen = self.by_model[model or ""]
  if not seen or #seen == 0 then return self.earliest, self.typical end
  local s = {}
  for i = 1, #seen do s[i] = seen[i] end
  sort(s)
  local earliest, typical = 0.9 * s[1], s[math.floor((#s + 1) / 2)]
  if #s < CONFIDENT then
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
