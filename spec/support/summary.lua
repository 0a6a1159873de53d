-- Busted output: the usual terminal output, then one plain closing line that any CI reads:
-- "N passed, N failed, N skipped".
return function(options)
  local busted = require "busted"
  local handler = require("busted.outputHandlers.utfTerminal")(options)
  busted.subscribe({ "suite", "end" }, function()
    io.write(("%d passed, %d failed, %d skipped\n"):format(handler.successesCount,
      handler.failuresCount + handler.errorsCount, handler.pendingsCount))
    io.flush()
    return nil, true
  end)
  return handler
end
