--- The `aimlmusic` command: generate, submit, status, wait, download, resume, models,
-- validate, completion and mock, from a shell. `bin/aimlmusic` calls `main(arg)`; `aimlmusic --help` and
-- `aimlmusic SUBCOMMAND --help` say how each is used.
--
-- Exit codes: 0 done; 2 usage or validation; 3 auth or credits; 4 the job failed; 5 timed
-- out (the id is printed; `aimlmusic wait ID` goes on); 130 interrupted by Ctrl-C (the id is
-- printed; `aimlmusic resume` goes on); 1 anything else.
-- @module aimlmusic.cli

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local args = require "aimlmusic.cli.args"      -- the command line read into options and a request
local client = require "aimlmusic.cli.client"  -- the key, the base URL and the journal of a run
local output = require "aimlmusic.cli.output"  -- stdout, stderr and the exit code
local help = require "aimlmusic.cli.help"      -- the --help texts
local commands = require "aimlmusic.cli.commands"

local M = {}

--- Exit codes by outcome.
-- @table EXIT
-- @field ok 0: done
-- @field other 1: anything else
-- @field usage 2: usage or validation
-- @field auth 3: auth or credits
-- @field failed 4: the job failed
-- @field timeout 5: timed out
-- @field interrupted 130: interrupted by Ctrl-C
M.EXIT = output.EXIT
local EXIT = M.EXIT

--- Converts the text of a --set value to the type the model table gives the field.
---@param field table a field of the model table (name, type, fields)
---@param text string the text after `=`
---@return any|nil value
---@return string|nil err
-- @function typed
M.typed = args.typed

--- Sets `--set FIELD=VALUE` on params, typed by the model table (dotted for nested fields).
---@param params table the request being built (params.model names the model)
---@param assignment string `FIELD=VALUE`
---@return true|nil ok
---@return string|nil err
-- @function apply_set
M.apply_set = args.apply_set

--- The default journal: $XDG_STATE_HOME/aimlmusic/jobs.journal, else
-- ~/.local/state/aimlmusic/jobs.journal, else (Windows) %LOCALAPPDATA%\aimlmusic\jobs.journal.
---@return string|nil path nil when none of XDG_STATE_HOME, HOME and LOCALAPPDATA is set
-- @function default_journal
M.default_journal = client.default_journal

--- Runs the command line.
---@param argv string[] the arguments (`arg` of the script)
---@return integer code the exit code
function M.main(argv)
  core.stdio_lf() -- "\n", not "\r\n", on Windows: a path printed with -q goes into a variable as it is
  local pre, at = args.parse_global(argv)
  if not pre then
    -- A JSON error for one who asked for JSON, wherever --json went.
    return output.fail(output.new({ json = args.wants_json(nil, argv) }), at)
  end
  local cmd = argv[at]
  if pre.version then
    io.stdout:write(music._VERSION, "\n")
    return EXIT.ok
  end
  if cmd == nil or pre.help or cmd == "help" then
    local topic = pre.help and cmd or (cmd == "help" and argv[at + 1])
    if topic and not help.commands[topic] then
      io.stderr:write("aimlmusic: no help for ", output.text(topic), args.did_you_mean(topic, help.commands),
        " (see aimlmusic --help)\n")
      return EXIT.usage
    end
    if cmd == nil and not pre.help then -- a usage error: the usage goes where errors go
      io.stderr:write(help.usage)
      return EXIT.usage
    end
    io.stdout:write(topic and help.commands[topic] or help.usage)
    return EXIT.ok
  end
  if not commands[cmd] then
    local names = {}
    for name in pairs(commands) do names[name] = true end
    io.stderr:write("aimlmusic: unknown command ", output.text(cmd), args.did_you_mean(cmd, names),
      " (see aimlmusic --help)\n")
    return EXIT.usage
  end
  local rest_argv = {}
  for i = at + 1, #argv do rest_argv[#rest_argv + 1] = argv[i] end
  if cmd == "mock" or cmd == "completion" then
    local own = {}
    for _, a in ipairs(rest_argv) do
      if a == "-h" or a == "--help" then
        io.stdout:write(help.commands[cmd])
        return EXIT.ok
      end
      -- -q and -v go with every command (aimlmusic --help); these two have nothing to say.
      if cmd == "mock" or not (a == "-q" or a == "--quiet" or a == "-v" or a == "--verbose") then
        own[#own + 1] = a
      end
    end
    return commands[cmd](nil, own, output.new({}), own)
  end
  local conf, cerr = args.read_config(args.config_path())
  local opts, rest = nil, cerr
  if conf then
    opts, rest = args.parse(cmd, rest_argv, pre, conf)
  else
    -- A broken config file leaves --help working: it is how one finds what the file may hold.
    local o = args.parse(cmd, rest_argv, pre, {})
    if o and o.help then
      io.stdout:write(help.commands[cmd])
      return EXIT.ok
    end
  end
  local out = output.new(opts or { json = args.wants_json(cmd, rest_argv), quiet = pre.quiet })
  if not opts then return output.fail(out, rest) end
  if opts.help then
    io.stdout:write(help.commands[cmd])
    return EXIT.ok
  end
  if #rest > 0 and cmd ~= "status" and cmd ~= "wait" and cmd ~= "download" and cmd ~= "models" then
    return output.fail(out, args.usage_error("unexpected argument " .. rest[1]))
  end
  if opts.output then
    if opts.output == "-" then
      return output.fail(out, args.usage_error("-o -: the track cannot go to stdout; give a file path"))
    end
    if opts.output == "" then return output.fail(out, args.usage_error("-o needs a file path, got an empty one")) end
    -- The directory output-dir names (a standing choice, in the config file say) is made on
    -- first use; any other must be there, or nothing is sent.
    local made, merr = true, nil
    if opts["output-dir"] then made, merr = client.make_parent(opts.output) end
    local dir = opts.output:match("^(.*)[/\\][^/\\]*$")
    if not made or (dir and dir ~= "" and not core.path_info(dir)) then
      return output.fail(out, args.usage_error(("no directory %s for the track%s"):format(dir,
        merr and ": " .. tostring(merr) or "")))
    end
    -- What is there already, said before anything is sent or waited for (lstat only: whatever
    -- is there, a FIFO too, is never opened, so this cannot wait): a directory is no place for
    -- a track, and a file stays unless --overwrite.
    local there = core.path_info(opts.output)
    if there and there.type == "directory" then
      return output.fail(out, args.usage_error(("%s is a directory: give the track a file name in it (-o %s/%s)")
        :format(opts.output, (opts.output:gsub("[/\\]+$", "")), "track.mp3")))
    elseif there and not opts.overwrite then
      return output.fail(out, args.usage_error(opts.output .. " exists: pass --overwrite to replace it"))
    end
  end
  core.sigint_catch()
  local code = commands[cmd](opts, rest, out)
  output.finish()
  return code
end

return M
