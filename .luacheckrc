-- The narrowest globals each file may use. The library runs on Lua 5.1 to 5.4 and LuaJIT, so
-- it may use only what all of them have ("min"), and the few names one of them lacks, taken
-- behind a check of which one it runs on (`table.unpack or unpack`, `if co_close then`).
stds.compat = {
  read_globals = {
    "unpack",                                 -- Lua 5.1 and LuaJIT
    table = { fields = { "unpack" } },        -- Lua 5.2 and later
    coroutine = { fields = { "close" } },     -- Lua 5.4
    jit = { fields = { "off" } },             -- LuaJIT
  },
}
std = "min+compat"
max_line_length = 125

-- Specs run under busted.
files["spec"] = { std = "+busted" }

-- Neovim runs LuaJIT and gives `vim`.
local nvim = { std = "luajit", read_globals = { "vim" } }
files["plugin"] = nvim
files["lua/aimlmusic/nvim"] = nvim
files["lua/aimlmusic/health.lua"] = nvim
files["spec/support/nvim_helper.lua"] = nvim
files["bench/nvim_gap.lua"] = nvim

-- LÖVE runs LuaJIT and gives `love`.
local love = { std = "luajit", read_globals = { "love" } }
files["examples/love"] = love
files["bench/love"] = love
