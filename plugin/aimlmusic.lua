-- :AimlMusic — generate music with the AI/ML API from Neovim (see :help aimlmusic).
-- Defines the command only; the library loads on first use.

if vim.g.loaded_aimlmusic then return end
vim.api.nvim_set_var("loaded_aimlmusic", true)

vim.api.nvim_create_user_command("AimlMusic", function(cmd)
  require("aimlmusic.nvim").command(cmd)
end, {
  nargs = "*",
  range = true,
  complete = function(arglead, cmdline, pos)
    return require("aimlmusic.nvim").complete(arglead, cmdline, pos)
  end,
  desc = "aimlmusic: generate, status, cancel, resume, models, play",
})

local group = vim.api.nvim_create_augroup("aimlmusic", { clear = true })

-- Unfinished jobs of an earlier session are offered once the editor is up, never before.
local function offer()
  vim.defer_fn(function() require("aimlmusic.nvim").offer_resume() end, 0)
end
if vim.v.vim_did_enter == 1 then
  offer() -- loaded late (lazy.nvim on a command or an event)
else
  vim.api.nvim_create_autocmd("VimEnter", { group = group, once = true, callback = offer })
end

vim.api.nvim_create_autocmd("VimLeavePre", {
  group = group,
  callback = function()
    local m = package.loaded["aimlmusic.nvim"]
    if m then m.on_leave() end
  end,
})
