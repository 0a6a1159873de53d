-- busted's runner for LuaJIT for Windows (what /usr/bin/busted is on Debian).
require "busted.runner" { standalone = false }
