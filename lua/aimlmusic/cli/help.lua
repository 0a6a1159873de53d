-- The help texts of the `aimlmusic` command: the overview and one text per command.

local M = {}

M.usage = [[
usage: aimlmusic [-q | -v] COMMAND [options]

Generate music with the AI/ML API from a shell.

Commands:
  generate   submit a job, wait for it and download the track
  submit     submit a job; print its id on the last line
  status     one status request for a job id
  wait       wait for a job id to finish (and download it with -o)
  download   download a finished job's track
  resume     finish the journal's unfinished jobs (after Ctrl-C or a crash)
  models     list the models and their fields (models NAME: one model)
  validate   check parameters against the model table, without any network
  completion print a shell's completion script: completion bash|zsh|fish
  mock       run the offline mock server

Options of every command, before or after it:
  -q, --quiet              print only the result (the path, or the job id)
                           and errors
  -v, --verbose            say every request, response, retry, back-off and
                           redirect on stderr, one line each (never the key)
  -h, --help               help, for aimlmusic or for one command

  --version                the version (aimlmusic --version)

Every command takes --help. The key comes from AIMLAPI_KEY or --key-file FILE
(never from a flag: a command line is visible to every user of the machine);
the base URL from AIMLAPI_BASE_URL or --base-url.

Defaults come from $XDG_CONFIG_HOME/aimlmusic/config (else
~/.config/aimlmusic/config; on Windows %APPDATA%\aimlmusic\config):
`key = value` lines, the keys being long option names (model, output-dir,
key-file, base-url, journal, no-journal, interval, timeout, request-timeout,
retries, quiet, verbose, overwrite); an option on the command line wins.

Exit codes: 0 done, 2 usage or validation, 3 auth or credits, 4 the job
failed, 5 timed out (the id is printed), 130 interrupted (the id is printed),
1 anything else.
]]

local PARAMS_HELP = [[
  -m, --model MODEL        the model (default minimax/music-2.0; see
                           aimlmusic models)
  -p, --prompt TEXT        the prompt
  -l, --lyrics TEXT        the lyrics
  --lyrics-file FILE       the lyrics from FILE ("-": standard input)
  --set FIELD=VALUE        any field of the model, dotted for nested ones,
                           typed by the model table (repeatable):
                           --set audio_setting.format=wav
]]

local CLIENT_HELP = [[
  --key-file FILE          read the API key from FILE (default: AIMLAPI_KEY)
  --base-url URL           the API (default: AIMLAPI_BASE_URL, then
                           https://api.aimlapi.com)
  --interval S             seconds between status polls (default: a
                           schedule learned from finished jobs: rare polls
                           early, frequent near the end)
  --request-timeout S      seconds one HTTP request may take; a download,
                           without a byte (60); then it is retried
  --retries N              retries of a failed request that is safe to
                           repeat (3)
  --journal PATH           the job journal (default
                           $XDG_STATE_HOME/aimlmusic/jobs.journal, else
                           ~/.local/state/aimlmusic/jobs.journal; on Windows
                           %LOCALAPPDATA%\aimlmusic\jobs.journal)
  --no-journal             keep no journal
  --json                   print exactly one JSON object on stdout
  -q, --quiet              print only the result
  -v, --verbose            one line per request, response, retry and redirect
  -h, --help               this text
]]

local OUTPUT_DIR = "  --output-dir DIR         a relative OUT goes under DIR\n"

M.commands = {
  generate = "usage: aimlmusic generate -p PROMPT [-l LYRICS | --lyrics-file FILE]\n"
    .. "                          -o OUT [options]\n\n"
    .. "Submits a job, waits for it (a status line on stderr) and downloads the track\n"
    .. "to OUT (a progress bar when stderr is a terminal). The job id is on stderr as\n"
    .. "soon as the submit answers; Ctrl-C then stops at once and prints it:\n"
    .. "aimlmusic resume (or aimlmusic wait ID -o OUT) finishes it without paying\n"
    .. "again. A Ctrl-C during the submit waits for its answer; a second one quits,\n"
    .. "saying what finds the job that may exist.\n\n" .. PARAMS_HELP
    .. "  -o, --output OUT         where the track goes (required)\n" .. OUTPUT_DIR
    .. "  --overwrite              replace OUT if it exists\n"
    .. "  --timeout S              stop waiting after S seconds (900); the job goes on\n" .. CLIENT_HELP,
  submit = "usage: aimlmusic submit -p PROMPT [-l LYRICS | --lyrics-file FILE]\n"
    .. "                        [-o OUT] [options]\n\n"
    .. "Submits a job and prints its id on the last line of stdout. With -o, the\n"
    .. "journal remembers OUT and aimlmusic resume downloads the track there.\n\n" .. PARAMS_HELP
    .. "  -o, --output OUT         where aimlmusic resume puts the track (checked\n"
    .. "                           before submitting)\n"
    .. OUTPUT_DIR
    .. "  --overwrite              replace OUT if it exists\n" .. CLIENT_HELP,
  status = "usage: aimlmusic status ID [options]\n\nOne status request for a job.\n\n" .. CLIENT_HELP,
  wait = "usage: aimlmusic wait ID [-o OUT] [options]\n\n"
    .. "Waits for a job to finish; with -o, downloads its track to OUT.\n\n"
    .. "  -o, --output OUT         where the track goes\n" .. OUTPUT_DIR
    .. "  --overwrite              replace OUT if it exists\n"
    .. "  --timeout S              stop waiting after S seconds (900)\n" .. CLIENT_HELP,
  download = "usage: aimlmusic download ID -o OUT [options]\n\nDownloads a finished job's track to OUT.\n\n"
    .. "  -o, --output OUT         where the track goes (required)\n" .. OUTPUT_DIR
    .. "  --overwrite              replace OUT if it exists\n" .. CLIENT_HELP,
  resume = "usage: aimlmusic resume [options]\n\n"
    .. "Waits for and downloads every unfinished job of the journal, without\n"
    .. "submitting again. A file already at a job's output is kept, and the job\n"
    .. "stays unfinished, unless its size is the job's.\n\n"
    .. "  --overwrite              replace such a file with the job's track\n"
    .. "  --timeout S              stop waiting for a job after S seconds (900)\n" .. CLIENT_HELP,
  models = "usage: aimlmusic models [NAME] [--json]\n\nLists the models and their fields; with NAME, that model.\n\n"
    .. "  --json                   print exactly one JSON object on stdout\n"
    .. "  -h, --help               this text\n",
  completion = "usage: aimlmusic completion bash|zsh|fish\n\n"
    .. "Prints the shell's completion script (commands, options, model names):\n"
    .. "  bash: source <(aimlmusic completion bash)   (or save it in\n"
    .. "        ~/.local/share/bash-completion/completions/aimlmusic)\n"
    .. "  zsh:  aimlmusic completion zsh > \"${fpath[1]}/_aimlmusic\"\n"
    .. "  fish: aimlmusic completion fish > ~/.config/fish/completions/aimlmusic.fish\n",
  validate = "usage: aimlmusic validate -p PROMPT [-l LYRICS | --lyrics-file FILE] [options]\n\n"
    .. "Checks parameters against the model table, without any network: exit 0\n"
    .. "when valid, 2 with every problem listed otherwise.\n\n" .. PARAMS_HELP
    .. "  --json                   print exactly one JSON object on stdout\n"
    .. "  -h, --help               this text\n",
  mock = "usage: aimlmusic mock [--port P] [--duration S] [aimlmusic-mock options]\n\n"
    .. "Runs the offline mock server on loopback (see aimlmusic-mock --help); point\n"
    .. "AIMLAPI_BASE_URL at the URL it prints and use AIMLAPI_KEY=test-key.\n",
}

return M
