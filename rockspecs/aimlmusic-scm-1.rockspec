rockspec_format = "3.0"
package = "aimlmusic"
version = "scm-1"
source = {
  url = "git+https://github.com/OWNER/aimlmusic.git",
}
description = {
  summary = "Generate music with the AI/ML API's music models (MiniMax, Lyria, Stable Audio, ElevenLabs) from any Lua",
  detailed = [[
    Submit a generation job with a prompt and lyrics, follow it until it is done and download
    the audio. The transfer engine is C over libcurl's multi interface: nothing blocks inside
    a task, so the same code runs in scripts, Neovim plugins and LÖVE games.
  ]],
  license = "MIT",
  labels = { "audio", "music", "http", "api", "neovim", "love" },
}
dependencies = {
  "lua >= 5.1",
}
external_dependencies = {
  -- Only the library is looked up: Debian keeps curl/curl.h in a multiarch include directory
  -- that the compiler searches by itself but LuaRocks does not.
  CURL = { library = "curl" },
  platforms = {
    windows = { CURL = { header = "curl/curl.h", library = "libcurl" } },
  },
}
build = {
  type = "builtin",
  -- The rock is a Neovim plugin too (rocks.nvim puts the rock's directory on the runtimepath):
  -- plugin/ defines :AimlMusic, doc/ holds its help and tags; man/ the command's man page.
  copy_directories = { "doc", "plugin", "man" },
  modules = {
    ["aimlmusic"] = "lua/aimlmusic.lua",
    ["aimlmusic.models"] = "lua/aimlmusic/models.lua",
    ["aimlmusic.types"] = "lua/aimlmusic/types.lua",
    ["aimlmusic.task"] = "lua/aimlmusic/task.lua",
    ["aimlmusic.journal"] = "lua/aimlmusic/journal.lua",
    ["aimlmusic.json"] = "lua/aimlmusic/json.lua",
    ["aimlmusic.datauri"] = "lua/aimlmusic/datauri.lua",
    ["aimlmusic.errors"] = "lua/aimlmusic/errors.lua",
    ["aimlmusic.response"] = "lua/aimlmusic/response.lua",
    ["aimlmusic.schema"] = "lua/aimlmusic/schema.lua",
    ["aimlmusic.validate"] = "lua/aimlmusic/validate.lua",
    ["aimlmusic.events"] = "lua/aimlmusic/events.lua",
    ["aimlmusic.options"] = "lua/aimlmusic/options.lua",
    ["aimlmusic.perform"] = "lua/aimlmusic/perform.lua",
    ["aimlmusic.wait"] = "lua/aimlmusic/wait.lua",
    ["aimlmusic.resume"] = "lua/aimlmusic/resume.lua",
    ["aimlmusic.cli.args"] = "lua/aimlmusic/cli/args.lua",
    ["aimlmusic.cli.client"] = "lua/aimlmusic/cli/client.lua",
    ["aimlmusic.cli.commands"] = "lua/aimlmusic/cli/commands.lua",
    ["aimlmusic.cli.completion"] = "lua/aimlmusic/cli/completion.lua",
    ["aimlmusic.cli.help"] = "lua/aimlmusic/cli/help.lua",
    ["aimlmusic.cli.launch"] = "lua/aimlmusic/cli/launch.lua",
    ["aimlmusic.cli.output"] = "lua/aimlmusic/cli/output.lua",
    ["aimlmusic.uv"] = "lua/aimlmusic/uv.lua",
    ["aimlmusic.cqueues"] = "lua/aimlmusic/cqueues.lua",
    ["aimlmusic.schedule"] = "lua/aimlmusic/schedule.lua",
    ["aimlmusic.retry"] = "lua/aimlmusic/retry.lua",
    ["aimlmusic.cli"] = "lua/aimlmusic/cli.lua",
    ["aimlmusic.nvim"] = "lua/aimlmusic/nvim/init.lua",
    ["aimlmusic.nvim.command"] = "lua/aimlmusic/nvim/command.lua",
    ["aimlmusic.nvim.notify"] = "lua/aimlmusic/nvim/notify.lua",
    ["aimlmusic.nvim.paths"] = "lua/aimlmusic/nvim/paths.lua",
    ["aimlmusic.health"] = "lua/aimlmusic/health.lua",
    ["aimlmusic.love"] = "lua/aimlmusic/love.lua",
    ["aimlmusic.mock"] = "lua/aimlmusic/mock.lua",
    ["aimlmusic.mock.api"] = "lua/aimlmusic/mock/api.lua",
    ["aimlmusic.mock.audio"] = "lua/aimlmusic/mock/audio.lua",
    ["aimlmusic.mock.cli"] = "lua/aimlmusic/mock/cli.lua",
    ["aimlmusic.mock.control"] = "lua/aimlmusic/mock/control.lua",
    ["aimlmusic.mock.faults"] = "lua/aimlmusic/mock/faults.lua",
    ["aimlmusic.mock.http"] = "lua/aimlmusic/mock/http.lua",
    ["aimlmusic.mock.jobs"] = "lua/aimlmusic/mock/jobs.lua",
    ["aimlmusic.mock.mp3"] = "lua/aimlmusic/mock/mp3.lua",
    ["aimlmusic.mock.util"] = "lua/aimlmusic/mock/util.lua",
    ["aimlmusic.mock.validate"] = "lua/aimlmusic/mock/validate.lua",
    ["aimlmusic.core"] = {
      sources = {
        "src/class.c", "src/commit.c", "src/core.c", "src/datauri.c", "src/drive.c",
        "src/engine.c", "src/error.c", "src/handles.c", "src/host.c",
        "src/journal.c", "src/json.c", "src/output.c", "src/part.c", "src/platform_posix.c",
        "src/platform_win32.c", "src/pollset.c", "src/pool.c", "src/redact.c", "src/response.c",
        "src/session.c", "src/spool.c", "src/transfer.c",
        "src/url.c", "src/utf8.c", "src/work.c",
      },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
    },
  },
  -- LuaRocks merges a platform's lists into the common ones entry by entry: each platform
  -- gives its own whole lists.
  platforms = {
    unix = {
      modules = {
        ["aimlmusic.core"] = { defines = { "_POSIX_C_SOURCE=200809L" }, libraries = { "curl", "m", "pthread" } },
      },
    },
    -- MinGW or MSVC: libcurl's import library (libcurl.dll.a, libcurl.lib) for libcurl-x64.dll
    -- (curl's own Windows build) or libcurl-4.dll (MSYS2's), Winsock, and LuaJIT's lua51.dll or
    -- Lua's DLL through LuaRocks' own link line.
    windows = {
      modules = {
        ["aimlmusic.core"] = { libraries = { "libcurl", "ws2_32" } },
      },
    },
  },
  install = {
    -- bin/aimlmusic-mock (and `aimlmusic mock`) also need luv: `luarocks install luv`.
    bin = { ["aimlmusic"] = "bin/aimlmusic", ["aimlmusic-mock"] = "bin/aimlmusic-mock" },
  },
}
-- The specs need the core built for the interpreter under test and the mock server: `make test`
-- builds it and runs busted (`luarocks test -- LUA=lua5.1` picks another runtime).
test = {
  type = "command",
  command = "make test",
}
