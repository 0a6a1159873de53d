--- One notification and one progress item per job, updated in place.
--
-- Notifications: with nvim-notify (`opts.replace`, the record it returned), snacks.nvim
-- (`opts.id`), fidget (`opts.key`) or any vim.notify that returns an id, each update replaces
-- the job's notification. With the plain vim.notify (which returns nothing) only the first and
-- the last message of a job are shown, so a job never floods the message area.
--
-- Progress, as LSP's `$/progress` reports it: each update fires `User AimlMusicProgress`
-- with the report in `vim.g.aimlmusic_progress` (and, from Neovim 0.8, in the autocmd's data):
-- `{token, id, title, value = {kind = "begin"|"report"|"end", title, message, percentage}}`,
-- one token per job from its first message, its id once the service gave one. Where
-- fidget.nvim is installed, each job is also a fidget progress handle.
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

local count = 0

--- A new notification for one job; nothing is shown until the first update.
-- @tparam string title the title (the job's label)
-- @treturn aimlmusic.nvim.Note
function M.new(title)
  count = count + 1
  return setmetatable({ title = title, id = nil, shown = 0, replaces = nil, token = "aimlmusic-" .. count,
    job_id = nil }, Note)
end

-- Fires User AimlMusicProgress with report (data from Neovim 0.8; vim.g on every release).
local function emit(report)
  vim.api.nvim_set_var("aimlmusic_progress", report)
  local ok = pcall(vim.api.nvim_exec_autocmds, "User",
    { pattern = "AimlMusicProgress", modeline = false, data = report })
  if not ok then -- Neovim 0.7: no data
    vim.api.nvim_exec_autocmds("User", { pattern = "AimlMusicProgress", modeline = false })
  end
end

-- fidget.nvim's progress API, when it is installed.
local function fidget_progress()
  local ok, progress = pcall(require, "fidget.progress")
  return ok and type(progress) == "table" and progress.handle and progress or nil
end

-- The job's progress item: begin at the first message, report after, end with the last.
function Note:progress(msg, level, final, percentage)
  local kind = self.shown == 0 and "begin" or (final and "end" or "report")
  local title = "AimlMusic " .. self.title
  emit({ token = self.token, id = self.job_id, title = title,
    value = { kind = kind, title = title, message = msg, percentage = percentage,
      error = level == vim.log.levels.ERROR or nil } })
  local fidget = fidget_progress()
  if not fidget then return end
  if not self.fidget then
    self.fidget = fidget.handle.create({ title = title, message = msg, percentage = percentage,
      lsp_client = { name = "aimlmusic" } })
  elseif final then
    self.fidget.message = msg
    self.fidget:finish()
  else
    self.fidget:report({ message = msg, percentage = percentage })
  end
end

--- The job's id, once the service gave one: progress reports carry it from then on.
function Note:set_id(id)
  self.job_id = id
end

--- Shows msg in the job's notification and progress item. Safe from any context: the call is
-- scheduled.
-- @tparam string msg the text
-- @tparam[opt] integer level a vim.log.levels value (INFO)
-- @tparam[opt] boolean final true for the job's last message
-- @tparam[opt] number percentage 0-100, for the progress item
function Note:update(msg, level, final, percentage)
  vim.schedule(function() self:update_now(msg, level, final, percentage) end)
end

--- As update, from the main loop (not from a fast event).
function Note:update_now(msg, level, final, percentage)
  if self.closed then return end
  self:progress(msg, level, final, percentage)
  if self.shown > 0 and self.replaces == false and not final then
    self.shown = self.shown + 1
    return
  end
  -- nvim-notify takes replace (what it returned), snacks id (ours), fidget key (ours).
  local opts = { title = "AimlMusic", replace = self.id, id = self.token, key = self.token,
    hide_from_history = not final and self.shown > 0 }
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
