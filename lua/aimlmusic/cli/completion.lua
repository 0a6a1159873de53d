-- Shell completion for `aimlmusic`: `completion[shell]()` is the script for bash, zsh or fish,
-- made from what the command line itself knows (its commands and their options, from
-- aimlmusic.cli.args and the help texts) and the model table's names, so it cannot drift.

local music = require "aimlmusic"
local args = require "aimlmusic.cli.args"
local help = require "aimlmusic.cli.help"

local M = {}

-- The commands, in the order --help gives them, with their one-line descriptions.
local function command_list()
  local list = {}
  local section = help.usage:match("\nCommands:\n(.-)\n\n")
  for name, what in section:gmatch("  (%l+)%s+([^\n]+)") do list[#list + 1] = { name, what } end
  return list
end
M.command_list = command_list

-- What --help says of each long option, by name: its lines joined (the help wraps them at
-- 80 columns), without the asides in parentheses, one short line for a menu.
local function option_docs()
  local docs = {}
  local texts = { help.usage }
  for _, t in pairs(help.commands) do texts[#texts + 1] = t end
  for _, t in ipairs(texts) do
    local name, what
    for line in (t .. "\n"):gmatch("([^\n]*)\n") do
      local more = name and line:match("^                           +(%S.*)$")
      if more then
        what = what .. " " .. more
      else
        if name and not docs[name] then
          docs[name] = what:gsub("%s*%b()", ""):gsub("%s+", " "):gsub("^%s+", ""):gsub("%s+$", "")
        end
        name, what = line:match("^  %-?%a?,? ?%-%-([%w-]+)[^\n]-%s%s+(%S[^\n]*)$")
      end
    end
  end
  return docs
end
M.option_docs = option_docs

local SHORT_OF = {}
for s, long in pairs(args.SHORT) do SHORT_OF[long] = s end

-- The options of cmd as words: --long and -s, sorted.
local function option_words(cmd)
  local words = {}
  for name in pairs(args.allowed(cmd)) do
    words[#words + 1] = "--" .. name
    if SHORT_OF[name] then words[#words + 1] = "-" .. SHORT_OF[name] end
  end
  table.sort(words)
  return words
end

local function model_names()
  local names = {}
  for name in pairs(music.models) do names[#names + 1] = name end
  table.sort(names)
  return names
end

local VALUE_FILE = { output = true, ["lyrics-file"] = true, ["key-file"] = true, journal = true }

local function names_of(list)
  local out = {}
  for _, c in ipairs(list) do out[#out + 1] = c[1] end
  return out
end

function M.bash()
  local cmds = table.concat(names_of(command_list()), " ")
  local models = table.concat(model_names(), " ")
  local cases = {}
  for _, cmd in ipairs(args.commands()) do
    local extra = cmd == "models" and " " .. models or ""
    cases[#cases + 1] = ("    %s) words=%q;;"):format(cmd, table.concat(option_words(cmd), " ") .. extra)
  end
  return table.concat({
    "# bash completion for aimlmusic (aimlmusic completion bash)",
    "_aimlmusic() {",
    "  local cur prev cmd words i",
    '  cur="${COMP_WORDS[COMP_CWORD]}"',
    '  prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  cmd=""',
    "  for ((i = 1; i < COMP_CWORD; i++)); do",
    '    case "${COMP_WORDS[i]}" in -*) ;; *) cmd="${COMP_WORDS[i]}"; break;; esac',
    "  done",
    '  case "$prev" in',
    ("    -m|--model) COMPREPLY=($(compgen -W %q -- \"$cur\")); return;;"):format(models),
    "    -o|--output|--lyrics-file|--key-file|--journal) COMPREPLY=($(compgen -f -- \"$cur\")); return;;",
    "    --output-dir) COMPREPLY=($(compgen -d -- \"$cur\")); return;;",
    "  esac",
    '  if [ -z "$cmd" ]; then',
    ("    COMPREPLY=($(compgen -W %q -- \"$cur\"))"):format(cmds .. " -q --quiet -v --verbose -h --help --version"),
    "    return",
    "  fi",
    '  case "$cmd" in',
    table.concat(cases, "\n"),
    '    completion) words="bash zsh fish";;',
    '    *) words="";;',
    "  esac",
    '  COMPREPLY=($(compgen -W "$words" -- "$cur"))',
    "}",
    "complete -o default -F _aimlmusic aimlmusic",
    "",
  }, "\n")
end

-- A word inside single quotes, for zsh and fish.
local function sq(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- zsh's _describe takes "name:what" with ':' in names escaped.
local function zsh_item(name, what)
  return sq(name:gsub(":", "\\:") .. ":" .. (what or ""))
end

function M.zsh()
  local cmds = {}
  for _, c in ipairs(command_list()) do cmds[#cmds + 1] = zsh_item(c[1], c[2]) end
  local models = {}
  for _, m in ipairs(model_names()) do models[#models + 1] = zsh_item(m, music.models[m].doc) end
  local cases = {}
  for _, cmd in ipairs(args.commands()) do
    local words = {}
    for _, w in ipairs(option_words(cmd)) do words[#words + 1] = sq(w) end
    cases[#cases + 1] = ("    %s) opts=(%s);;"):format(cmd, table.concat(words, " "))
  end
  return table.concat({
    "#compdef aimlmusic",
    "# zsh completion for aimlmusic (aimlmusic completion zsh > \"${fpath[1]}/_aimlmusic\")",
    "_aimlmusic() {",
    "  local -a cmds models opts",
    "  local cmd i",
    "  cmds=(" .. table.concat(cmds, " ") .. ")",
    "  models=(" .. table.concat(models, " ") .. ")",
    "  for ((i = 2; i < CURRENT; i++)); do",
    '    case "${words[i]}" in -*) ;; *) cmd="${words[i]}"; break;; esac',
    "  done",
    '  case "${words[CURRENT-1]}" in',
    "    -m|--model) _describe model models; return;;",
    "    -o|--output|--lyrics-file|--key-file|--journal) _files; return;;",
    "    --output-dir) _files -/; return;;",
    "  esac",
    '  if [[ -z "$cmd" ]]; then',
    '    if [[ "${words[CURRENT]}" == -* ]]; then compadd -- -q --quiet -v --verbose -h --help --version;',
    "    else _describe command cmds; fi",
    "    return",
    "  fi",
    '  case "$cmd" in',
    table.concat(cases, "\n"),
    "    completion) compadd bash zsh fish; return;;",
    "  esac",
    '  if [[ "$cmd" == models && "${words[CURRENT]}" != -* ]]; then _describe model models; return; fi',
    "  compadd -- $opts",
    "}",
    '_aimlmusic "$@"',
    "",
  }, "\n")
end

function M.fish()
  local lines = { "# fish completion for aimlmusic (aimlmusic completion fish > "
    .. "~/.config/fish/completions/aimlmusic.fish)", "complete -c aimlmusic -f" }
  local cmd_names = names_of(command_list())
  local seen_any = "__fish_seen_subcommand_from " .. table.concat(cmd_names, " ")
  for _, c in ipairs(command_list()) do
    lines[#lines + 1] = ("complete -c aimlmusic -n %s -a %s -d %s"):format(sq("not " .. seen_any), c[1], sq(c[2]))
  end
  local docs = option_docs()
  local models = table.concat(model_names(), " ")
  for _, name in ipairs({ "quiet", "verbose", "help" }) do
    lines[#lines + 1] = ("complete -c aimlmusic -s %s -l %s -d %s"):format(SHORT_OF[name], name, sq(docs[name] or name))
  end
  for _, cmd in ipairs(args.commands()) do
    local names = {}
    for name in pairs(args.allowed(cmd)) do
      if name ~= "quiet" and name ~= "verbose" and name ~= "help" then names[#names + 1] = name end
    end
    table.sort(names)
    for _, name in ipairs(names) do
      local parts = { "complete -c aimlmusic -n " .. sq("__fish_seen_subcommand_from " .. cmd) }
      if SHORT_OF[name] then parts[#parts + 1] = "-s " .. SHORT_OF[name] end
      parts[#parts + 1] = "-l " .. name
      if args.OPTIONS[name] ~= true then parts[#parts + 1] = "-r" end
      if name == "model" then parts[#parts + 1] = "-a " .. sq(models) end
      if VALUE_FILE[name] or name == "output-dir" then parts[#parts + 1] = "-F" end
      parts[#parts + 1] = "-d " .. sq(docs[name] or name)
      lines[#lines + 1] = table.concat(parts, " ")
    end
  end
  lines[#lines + 1] = "complete -c aimlmusic -n '__fish_seen_subcommand_from models' -a " .. sq(models)
  lines[#lines + 1] = "complete -c aimlmusic -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'"
  lines[#lines + 1] = ""
  return table.concat(lines, "\n")
end

return M
