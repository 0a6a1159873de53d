--- One notification per job, updated in place.
-- With nvim-notify, fidget or any vim.notify that returns an id and takes `opts.replace`,
-- each update replaces the job's notification. With the plain vim.notify (which returns
-- nothing) only the first and the last message of a job are shown, so a job never floods
-- the message area.
-- @module aimlmusic.nvim.notify

local M = {}

--- A message of the plugin, not of one job (usage, a missing player, a model changed).
-- @tparam string msg the text
-- @tparam[opt] integer level a vim.log.levels value (INFO)
function M.say(msg, level)
  vim.notify("AimlMusic: " .. msg, level or vim.log.levels.INFO, { title = "AimlMusic" })
end

local Note = {}
Note.__index = Note

--- A new notification for one job; nothing is shown until the first update.
-- @tparam string title the title (the job's label)
-- @treturn aimlmusic.nvim.Note
function M.new(title)
  return setmetatable({ title = title, id = nil, shown = 0, replaces = nil }, Note)
end

--- Shows msg in the job's notification. Safe from any context: the call is scheduled.
-- @tparam string msg the text
-- @tparam[opt] integer level a vim.log.levels value (INFO)
-- @tparam[opt] boolean final true for the job's last message
function Note:update(msg, level, final)
  vim.schedule(function() self:update_now(msg, level, final) end)
end

--- As update, from the main loop (not from a fast event).
function Note:update_now(msg, level, final)
  if self.closed then return end
  if self.shown > 0 and self.replaces == false and not final then return end
  local opts = { title = "AimlMusic", replace = self.id, hide_from_history = not final and self.shown > 0 }
  -- fidget and nvim-notify both take a key or a replace id; the key groups one job's updates.
  opts.key = self.title
  local id = vim.notify("AimlMusic " .. self.title .. ": " .. msg, level or vim.log.levels.INFO, opts)
  self.shown = self.shown + 1
  if id ~= nil then
    self.id, self.replaces = id, true
  elseif self.replaces == nil then
    self.replaces = false
  end
  if final then self.closed = true end
end

return M
