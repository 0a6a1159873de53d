-- Writes the man page aimlmusic(1) from the texts `aimlmusic --help` prints
-- (lua/aimlmusic/cli/help.lua), so the two never disagree:
--   lua tools/gen-man.lua > man/man1/aimlmusic.1      (spec/cli_ux_spec.lua checks it is current)
package.path = "./lua/?.lua;" .. package.path
local help = require "aimlmusic.cli.help"

-- Text as roff: backslashes and leading dots or quotes made literal.
local function roff(s)
  s = s:gsub("\\", "\\e")
  return (s:gsub("\n([.'])", "\n\\&%1"):gsub("^([.'])", "\\&%1"))
end

local function block(text)
  return ".nf\n" .. roff(text:gsub("\n+$", "")) .. "\n.fi\n"
end

local usage = help.usage
local synopsis, rest = usage:match("^usage: ([^\n]+)\n\n(.*)$")
local description, body = rest:match("^([^\n]+)\n\n(.*)$")
local order = { "generate", "submit", "status", "wait", "download", "resume", "models", "validate", "completion",
  "mock" }

local out = {
  '.TH AIMLMUSIC 1 "" "aimlmusic" "User Commands"',
  ".SH NAME",
  "aimlmusic \\- " .. roff(description:gsub("%.$", "")),
  ".SH SYNOPSIS",
  block(synopsis),
  ".SH DESCRIPTION",
  block(body),
  ".SH COMMANDS",
}
for _, name in ipairs(order) do
  out[#out + 1] = ".SS " .. name
  out[#out + 1] = block(assert(help.commands[name], name))
end
out[#out + 1] = ".SH FILES"
out[#out + 1] = block("$XDG_CONFIG_HOME/aimlmusic/config (else ~/.config/aimlmusic/config): defaults\n"
  .. "$XDG_STATE_HOME/aimlmusic/jobs.journal (else ~/.local/state/aimlmusic/jobs.journal): the journal")
out[#out + 1] = ".SH ENVIRONMENT"
out[#out + 1] = block("AIMLAPI_KEY       the API key\nAIMLAPI_BASE_URL  the API's URL\n"
  .. "AIMLMUSIC_LOG     debug, info, warn or error: the library's events on stderr")
io.stdout:write(table.concat(out, "\n"))
