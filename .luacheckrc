std = "max"
max_line_length = 125
files["spec"] = { std = "+busted" }
files["examples/love"] = { read_globals = { "love" } }
files["examples/nvim"] = { read_globals = { "vim" } }
