--- The :AimlMusic command of the Neovim plugin: parsing a subcommand, completing one, and
-- finding a player. Each subcommand runs the plugin's function of that name (aimlmusic.nvim),
-- which this module gets as its first argument, so it never requires the plugin back.
-- @module aimlmusic.nvim.command

local notify = require "aimlmusic.nvim.notify"

local levels = vim.log.levels

local M = {}

M.SUBCOMMANDS = { "generate", "status", "cancel", "resume", "models", "play" }

local PLAYERS = {
  { "mpv", "--no-video", "--really-quiet" },
  { "ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet" },
  { "paplay" },
}

local say = notify.say

--- The command that plays a track: config.player, else the first of mpv, ffplay, paplay found.
---@return string[]|nil
function M.player(config)
  if config.player then return config.player end
  for _, p in ipairs(PLAYERS) do
    if vim.fn.executable(p[1]) == 1 then return p end
  end
  return nil
end

--- Runs :AimlMusic {subcommand} [args] (cmd as nvim_create_user_command passes it).
function M.run(plugin, cmd)
  local sub, rest = (cmd.args or ""):match("^%s*(%S*)%s*(.-)%s*$")
  if sub == "generate" then
    local buf = vim.api.nvim_get_current_buf()
    local first, last
    if cmd.range and cmd.range > 0 then first, last = cmd.line1, cmd.line2 end
    if rest ~= "" then
      return plugin.generate(rest, buf, first, last)
    end
    vim.ui.input({ prompt = "AimlMusic prompt: " }, function(prompt)
      if prompt and prompt ~= "" then plugin.generate(prompt, buf, first, last) end
    end)
  elseif sub == "status" then
    plugin.status()
  elseif sub == "cancel" then
    plugin.cancel(rest)
  elseif sub == "resume" then
    plugin.resume()
  elseif sub == "models" then
    plugin.models(rest)
  elseif sub == "play" then
    plugin.play(rest)
  elseif sub == "" then
    say("usage: :AimlMusic " .. table.concat(M.SUBCOMMANDS, "|") .. " (see :help aimlmusic)", levels.WARN)
  else
    say(("unknown subcommand %q: use %s"):format(sub, table.concat(M.SUBCOMMANDS, ", ")), levels.ERROR)
  end
end

--- Completion for :AimlMusic: subcommands, model names after models, job numbers after
-- cancel, files after play.
function M.complete(plugin, arglead, cmdline)
  local words = {}
  for w in cmdline:gmatch("%S+") do words[#words + 1] = w end
  local n = #words + (cmdline:match("%s$") and 1 or 0) -- the word being completed
  local function matching(list)
    local out = {}
    for _, s in ipairs(list) do
      if s:sub(1, #arglead) == arglead then out[#out + 1] = s end
    end
    return out
  end
  if n <= 2 then return matching(M.SUBCOMMANDS) end
  local sub = words[2]
  if sub == "models" and n == 3 then
    local ok, names = pcall(plugin.model_names)
    return ok and matching(names) or {}
  elseif sub == "cancel" and n == 3 then
    return matching(plugin.running_numbers())
  elseif sub == "play" then
    return vim.fn.getcompletion(arglead, "file")
  end
  return {}
end

return M
