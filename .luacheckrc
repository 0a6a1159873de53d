std = "max"
max_line_length = 125
files["spec"] = { std = "+busted" }
files["examples/love"] = { read_globals = { "love" } }
files["plugin"] = { read_globals = { "vim" } }
files["lua/aimlmusic/nvim"] = { read_globals = { "vim" } }
files["lua/aimlmusic/health.lua"] = { read_globals = { "vim" } }
files["spec/support/nvim_helper.lua"] = { read_globals = { "vim" } }
files["bench/love"] = { read_globals = { "love" } }
files["bench/nvim_gap.lua"] = { read_globals = { "vim" } }
