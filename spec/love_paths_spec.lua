-- A LÖVE game whose save directory's name is not ASCII (C:\Users\Jörg\AppData\Roaming\LOVE\...):
-- LÖVE gives that path in UTF-8, while LuaJIT's io.open, os.rename and package.loadlib take
-- Windows' ANSI code page, so the core copied out of the game could be neither written nor
-- loaded there. aimlmusic.love names the directory as those calls can. Runs on every system;
-- under wine (make windows-test) on LuaJIT for Windows, where the difference shows. LÖVE's file
-- system is played by a table over a real directory (LÖVE for Windows is not here): the game's
-- own files in memory, its save directory on disk.

local core = require "aimlmusic.core"
local love_module = require "aimlmusic.love"
local util = require "support.util"

describe("a LÖVE game with a save directory named outside ASCII", function()
  local saved_love

  setup(function()
    saved_love = rawget(_G, "love")
  end)

  teardown(function()
    rawset(_G, "love", saved_love)
  end)

  -- The game's core copied out to a save directory named name and loaded, LÖVE's file calls
  -- played here; with race, another instance of the game puts its copy in place first (while
  -- this one writes its own). Returns what the searcher returned, and the save directory.
  local function copy_out(name, race)
    local sep = package.config:sub(1, 1)
    local base = util.tmpdir()
    finally(function() util.rm_rf(base) end)
    local save = base .. sep .. name
    assert(core.mkdir(save))
    local built -- where require found the core (package.searchpath's search; Lua 5.1 has none)
    for template in package.cpath:gmatch("[^;]+") do
      local path = template:gsub("%?", (("aimlmusic/core"):gsub("/", sep == "\\" and "\\" or "/")))
      if not built and util.read_file(path) then built = path end
    end
    assert(built, "no built core on package.cpath")
    local ext = built:match("(%.%w+)$")
    local game = { ["aimlmusic/core" .. ext] = assert(util.read_file(built)) }
    -- What LÖVE writes into the save directory, with Unicode file calls as LÖVE's own are:
    -- _wfopen on Windows (through LuaJIT's ffi), io.open elsewhere (where paths are bytes).
    local write_file = function(path, data)
      local f, err = io.open(path, "wb")
      if not f then return false, err end
      f:write(data)
      f:close()
      return true
    end
    if sep == "\\" then
      local ffi = require "ffi"
      pcall(ffi.cdef, [[
        typedef struct _iobuf FILE;
        FILE *_wfopen(const uint16_t *name, const uint16_t *mode);
        size_t fwrite(const void *p, size_t size, size_t n, FILE *f);
        int fclose(FILE *f);
        int MultiByteToWideChar(unsigned int cp, unsigned long flags, const char *s, int n, uint16_t *w, int wn);
      ]])
      local function wide(text)
        local n = ffi.C.MultiByteToWideChar(65001, 0, text, -1, nil, 0)
        local w = ffi.new("uint16_t[?]", n)
        ffi.C.MultiByteToWideChar(65001, 0, text, -1, w, n)
        return w
      end
      write_file = function(path, data)
        local f = ffi.C._wfopen(wide(path), wide("wb"))
        if f == nil then return false, "_wfopen " .. path .. " failed" end
        local n = ffi.C.fwrite(data, 1, #data, f)
        ffi.C.fclose(f)
        return n == #data, "short write"
      end
    end
    local fs = {
      getSaveDirectory = function() return save end,
      getRealDirectory = function(rel) return game[rel] and "C:/nowhere/game.love" or save end,
      getInfo = function(rel)
        if game[rel] then return { type = "file", size = #game[rel] } end
        local info = core.path_info(save .. "/" .. rel)
        return info and { type = info.type, size = info.size } or nil
      end,
      read = function(rel) return game[rel] end,
      write = function(rel, data)
        local other = race and rel:match("^(.*)%.%d+%.tmp$")
        if other then assert(write_file(save .. "/" .. other, data)) end
        return write_file(save .. "/" .. rel, data)
      end,
      createDirectory = function(rel)
        local path = save
        for part in rel:gmatch("[^/]+") do
          path = path .. "/" .. part
          core.mkdir(path)
        end
        return true
      end,
      getDirectoryItems = function() return {} end,
      remove = function() return false end,
    }
    rawset(_G, "love", { filesystem = fs })
    local loader = love_module.searcher("aimlmusic.core")
    assert.equal("function", type(loader), tostring(loader))
    -- the copy is in the save directory itself, as the core (UTF-8, Unicode calls) finds it; its
    -- folder is named for the library's size where LÖVE has no love.data to hash it
    local size = #game["aimlmusic/core" .. ext]
    local info = core.path_info(save .. "/aimlmusic-native/" .. size .. "/aimlmusic/core" .. ext)
    assert.is_truthy(info, "no copy of the core under " .. save)
    assert.equal(size, info.size)
  end

  it("copies the core out of the game into it and loads it from there", function()
    copy_out("Jörg")
  end)

  -- Windows' rename replaces no file: the second of two instances started together found the
  -- first one's copy in its way and gave up.
  it("loads the copy another instance of the game put there first", function()
    copy_out("Zoë", true)
  end)
end)
