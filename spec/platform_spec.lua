-- The C core's shared layer: one failure shape from every C function that touches the system,
-- and a platform layer with no unguarded Linux-only call.

local core = require "aimlmusic.core"
local util = require "support.util"

describe("a failing system call", function()
  local dir

  before_each(function()
    dir = util.tmpdir()
  end)

  after_each(function()
    util.rm_rf(dir)
  end)

  it("returns nil and an io error naming the file and the errno", function()
    local path = dir .. "/missing/jobs.journal"
    local ok, err = core.journal_append(path, "{}")
    assert.is_nil(ok)
    assert.is_true(require("aimlmusic.errors").is_error(err))
    assert.equals("io", err.kind)
    assert.equals("ENOENT", err.code)
    assert.is_false(err.retryable)
    assert.truthy(err.message:find(path, 1, true), err.message)
    assert.matches("^aimlmusic: io: journal .*missing/jobs%.journal: ", tostring(err))
  end)

  it("says EEXIST, with the way out, when the output is taken", function()
    util.write_file(dir .. "/a.wav", "x")
    local ok, err = core.output_check(dir .. "/a.wav", false)
    assert.is_nil(ok)
    assert.equals("io", err.kind)
    assert.equals("EEXIST", err.code)
    assert.matches("overwrite = true", err.message)
    assert.is_true(core.output_check(dir .. "/a.wav", true))
  end)

  it("says ENOENT when the output's directory is missing", function()
    local ok, err = core.output_check(dir .. "/nowhere/a.wav", false)
    assert.is_nil(ok)
    assert.equals("ENOENT", err.code)
    assert.truthy(err.message:find(dir .. "/nowhere/a.wav", 1, true), err.message)
  end)

  it("creates a journal and its record durably in a new directory", function()
    assert.is_true(core.mkdir(dir .. "/state"))
    assert.is_true(core.mkdir(dir .. "/state")) -- already there: still true
    assert.is_true(core.journal_append(dir .. "/state/j", "one"))
    assert.is_true(core.journal_append(dir .. "/state/j", "two"))
    assert.equals("one\ntwo\n", util.read_file(dir .. "/state/j"))
  end)
end)

describe("the platform layer", function()
  -- Linux-only calls (or Linux-only flags) that would break the build on macOS or the BSDs.
  local LINUX_ONLY = { "pipe2", "accept4", "MSG_NOSIGNAL", "fdatasync", "O_TMPFILE", "epoll_", "timerfd_",
    "SOCK_CLOEXEC", "SOCK_NONBLOCK", "renameat2", "sync_file_range" }

  local function sources()
    local list = {}
    local p = assert(io.popen("ls src/*.c src/*.h"))
    for name in p:lines() do list[#list + 1] = name end
    p:close()
    return list
  end

  -- The code of a file (comments taken out) without the branches under an `#if` that names
  -- __linux__ or a macro defined only inside such a branch (pollset.c's POLLSET_EPOLL), up to the
  -- matching `#elif`/`#else`/`#endif`: what remains is what every system compiles.
  local function unguarded(text)
    text = text:gsub("/%*.-%*/", " "):gsub("//[^\n]*", "")
    local guards = { "__linux__" }
    local function guarded(line)
      for _, g in ipairs(guards) do
        if line:find(g, 1, true) then return true end
      end
      return false
    end
    local out, depth, skip = {}, 0, nil
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      local directive = line:match("^%s*#%s*(%a+)")
      if directive == "if" or directive == "ifdef" or directive == "ifndef" then
        depth = depth + 1
        if not skip and guarded(line) then skip = depth end
      elseif (directive == "elif" or directive == "else") and skip == depth then
        skip = nil
      elseif directive == "endif" then
        if skip == depth then skip = nil end
        depth = depth - 1
      elseif skip then
        local macro = directive == "define" and line:match("^%s*#%s*define%s+([%w_]+)")
        if macro then guards[#guards + 1] = macro end
      else
        out[#out + 1] = line
      end
    end
    return table.concat(out, "\n")
  end

  it("finds the guarded branch and what is outside it", function()
    local text = table.concat({
      "a(); /* pipe2 in a comment */", "#if defined(__linux__)", "#define USE_EPOLL 1", "pipe2(x);", "#if X",
      "y();", "#endif", "#elif defined(__APPLE__)", "kqueue();", "#endif", "#if defined(USE_EPOLL)",
      "epoll_wait();", "#else", "poll();", "#endif", "b(); accept4();",
    }, "\n")
    local rest = unguarded(text)
    assert.falsy(rest:find("pipe2") or rest:find("epoll_wait"))
    assert.truthy(rest:find("kqueue") and rest:find("poll%(%)"))
    assert.truthy(rest:find("a%(%)") and rest:find("b%(%)") and rest:find("accept4"))
  end)

  it("makes no Linux-only call outside a branch guarded by __linux__", function()
    local found = {}
    for _, file in ipairs(sources()) do
      local rest = unguarded(util.read_file(file))
      for _, name in ipairs(LINUX_ONLY) do
        if rest:find(name, 1, true) then found[#found + 1] = file .. ": " .. name end
      end
    end
    assert.same({}, found)
  end)

  it("has a POSIX and a Windows implementation, each compiled only on its system", function()
    local posix = util.read_file("src/platform_posix.c")
    local win = util.read_file("src/platform_win32.c")
    assert.truthy(posix:find("\n#if !defined%(_WIN32%)\n"))
    assert.truthy(win:find("\n#if defined%(_WIN32%)\n"))
    -- Every function platform.h declares is defined in both.
    local missing = {}
    for name in util.read_file("src/platform.h"):gmatch("\n[%w_ %*]-[ %*](platform_[%w_]+)%(") do
      local inline = util.read_file("src/platform.h"):find("static inline [%w_ %*]-" .. name .. "%(")
      if not inline then
        if not posix:find("[ %*]" .. name .. "%(") then missing[#missing + 1] = "posix: " .. name end
        if not win:find("[ %*]" .. name .. "%(") then missing[#missing + 1] = "win32: " .. name end
      end
    end
    assert.same({}, missing)
  end)
end)
