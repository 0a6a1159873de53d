-- :AimlMusic {prompt} generates a track from the prompt, with the current buffer as the lyrics,
-- and saves it next to the buffer (song.txt -> song.mp3, or song-1.mp3 when that exists).
-- The editor stays responsive: the job runs as an aimlmusic task on Neovim's own event loop.
--
-- Install (the module is loaded with LuaJIT, so build it for LuaJIT):
--
--   lazy.nvim, from a checkout of aimlmusic:
--     {
--       dir = "~/src/aimlmusic/examples/nvim",
--       build = "make -C ../.. build LUA=luajit",
--       init = function()
--         local root = vim.fn.expand("~/src/aimlmusic")
--         package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
--         package.cpath = root .. "/build/luajit/?.so;" .. package.cpath
--       end,
--       main = "aimlmusic_nvim",
--       opts = { model = "minimax/music-2.0" },  -- calls require("aimlmusic_nvim").setup(opts)
--     }
--
--   or with LuaRocks and the runtimepath:
--     luarocks --lua-version=5.1 make --local          # in the checkout (LuaJIT is Lua 5.1)
--     eval "$(luarocks --lua-version=5.1 path)"        # in the shell that starts nvim
--     set runtimepath+=~/src/aimlmusic/examples/nvim   # in init.vim
--
-- The key comes from AIMLAPI_KEY (or setup{ api_key = ... }), like everywhere in aimlmusic.

if vim.g.loaded_aimlmusic then return end
vim.api.nvim_set_var("loaded_aimlmusic", true)

vim.api.nvim_create_user_command("AimlMusic", function(cmd)
  require("aimlmusic_nvim").generate(cmd.args)
end, { nargs = "+", desc = "Generate music from {prompt} with the buffer as lyrics (aimlmusic)" })
