--- Native modules from inside a LÖVE game: a .love archive or a fused executable.
--
-- The operating system cannot load a shared library from inside a zip, so this package searcher
-- finds `name.so` (aimlmusic/core.so: what `make love-bundle` puts in build/love/)
-- among the game's files with love.filesystem, copies it to the save directory (under
-- `aimlmusic-native/<md5 of the library>/`, so a running game never sees its library replaced;
-- the copies of older versions go) and loads it with package.loadlib, as native LÖVE libraries
-- are shipped. A game run from a
-- folder loads the library where it lies. `require "aimlmusic"` installs it by itself in LÖVE.
-- In LÖVE, a relative output of generate or download lands in the save directory (M.output).
-- @module aimlmusic.love

-- luacheck: read globals love
local M = {}

local EXTENSIONS = { ".so", ".dll", ".dylib" }

-- On Windows, LÖVE hands out paths in UTF-8 (the save directory under C:\Users\Jörg\...), while
-- LuaJIT's io.open, os.rename and package.loadlib take the system's ANSI code page: a directory
-- path as those calls can name it: the same text in that code page when it holds it, else the
-- directory's short (8.3) name; the path itself when neither exists (or on other systems).
local ffi_ready
local function native_dir(dir)
  if not dir or not dir:find("[\128-\255]") or package.config:sub(1, 1) ~= "\\" then return dir end
  local ok, ffi = pcall(require, "ffi")
  if not ok then return dir end
  if not ffi_ready then
    ffi_ready = pcall(ffi.cdef, [[
      int MultiByteToWideChar(unsigned int cp, unsigned long flags, const char *s, int n, uint16_t *w, int wn);
      int WideCharToMultiByte(unsigned int cp, unsigned long flags, const uint16_t *w, int wn, char *s, int n,
                              const char *dflt, int *used_dflt);
      unsigned long GetShortPathNameW(const uint16_t *long_path, uint16_t *short_path, unsigned long n);
    ]]) or pcall(function() return ffi.C.GetShortPathNameW end)
    if not ffi_ready then return dir end
  end
  local C = ffi.C
  local function to_ansi(w)
    local used = ffi.new("int[1]")
    local n = C.WideCharToMultiByte(0, 0x400, w, -1, nil, 0, nil, used) -- CP_ACP, WC_NO_BEST_FIT_CHARS
    if n <= 0 then return nil end
    local buf = ffi.new("char[?]", n)
    C.WideCharToMultiByte(0, 0x400, w, -1, buf, n, nil, used)
    if used[0] ~= 0 then return nil end -- a character the code page lacks
    return ffi.string(buf)
  end
  local n = C.MultiByteToWideChar(65001, 8, dir, -1, nil, 0) -- CP_UTF8, MB_ERR_INVALID_CHARS
  if n <= 0 then return dir end
  local wide = ffi.new("uint16_t[?]", n)
  C.MultiByteToWideChar(65001, 8, dir, -1, wide, n)
  local ansi = to_ansi(wide)
  if ansi then return ansi end
  local m = C.GetShortPathNameW(wide, nil, 0)
  if m == 0 then return dir end
  local short = ffi.new("uint16_t[?]", m)
  if C.GetShortPathNameW(wide, short, m) == 0 then return dir end
  return to_ansi(short) or dir
end
M.native_dir = native_dir

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The copies of rel that older versions of the game left (under another digest) go, with the
-- directories they leave empty: a game still running one keeps what it mapped.
local function prune(fs, rel, keep)
  for _, d in ipairs(fs.getDirectoryItems("aimlmusic-native")) do
    local path = "aimlmusic-native/" .. d .. "/" .. rel
    if d ~= keep and fs.getInfo(path, "file") and fs.remove(path) then
      path = path:match("^(.*)/[^/]*$")
      while path ~= "aimlmusic-native" and #fs.getDirectoryItems(path) == 0 and fs.remove(path) do
        path = path:match("^(.*)/[^/]*$")
      end
    end
  end
end

-- The absolute path of a copy of the game file rel (contents data) in the save directory.
local function copy_out(fs, rel, data)
  local digest = love.data and love.data.encode("string", "hex", love.data.hash("md5", data))
    or tostring(#data)
  local dir = "aimlmusic-native/" .. digest
  local target = dir .. "/" .. rel
  fs.createDirectory(target:match("^(.*)/[^/]*$"))
  -- (the directory exists now: its short name, if need be, too; what follows it is ASCII)
  local save = native_dir(fs.getSaveDirectory())
  local full = save .. "/" .. target
  local info = fs.getInfo(target, "file")
  if info and info.size == #data and exists(full) then return full end
  -- Written beside, then renamed: another instance of the game may have the old one mapped.
  local tmp = ("%s.%d.tmp"):format(target, math.random(1, 1e9))
  local ok, err = fs.write(tmp, data)
  if not ok then return nil, "cannot write " .. tmp .. " in the save directory: " .. tostring(err) end
  local full_tmp = save .. "/" .. tmp
  local renamed, rerr = os.rename(full_tmp, full)
  if not renamed then
    os.remove(full_tmp)
    -- Windows' rename replaces nothing: another instance of the game, started at the same
    -- time, put the same library (same digest) there first. That one serves.
    info = fs.getInfo(target, "file")
    if info and info.size == #data and exists(full) then return full end
    return nil, "cannot move " .. full_tmp .. ": " .. tostring(rerr)
  end
  prune(fs, rel, digest)
  -- Bundles before the core had its own JSON carried cjson.so: its copies go too, unless the
  -- game ships one of its own.
  if rel == "aimlmusic/core.so" and not fs.getInfo("cjson.so", "file") then prune(fs, "cjson.so") end
  return full
end

--- The searcher: a loader for module name, or a message saying where it looked.
-- @tparam string name the module, e.g. "aimlmusic.core"
function M.searcher(name)
  local fs = love.filesystem
  local rel = name:gsub("%.", "/")
  local tried = {}
  for _, ext in ipairs(EXTENSIONS) do
    local path = rel .. ext
    if fs.getInfo(path, "file") then
      local real = native_dir(fs.getRealDirectory(path))
      local full = real and real .. "/" .. path
      if not (full and exists(full)) then -- inside an archive: copy it out
        local data, rerr = fs.read(path)
        if not data then return "\n\tcannot read game file " .. path .. ": " .. tostring(rerr) end
        local err
        full, err = copy_out(fs, path, data)
        if not full then return "\n\t" .. err end
      end
      local loader, lerr = package.loadlib(full, "luaopen_" .. name:gsub("%.", "_"))
      if not loader then return "\n\tcannot load " .. full .. ": " .. tostring(lerr) end
      return loader
    end
    tried[#tried + 1] = "\n\tno game file '" .. path .. "'"
  end
  return table.concat(tried)
end

--- Where a relative output goes in a game: into the save directory. Returns the OS path there
-- (what the library writes, `st.path`) and the same file as LÖVE's file system names it
-- (`st.file`: what love.audio.newSource and love.sound.newSoundData take), creating the
-- directories on the way. An absolute path, or one that climbs out with "..", is the game's
-- own choice: it is returned unchanged, with no LÖVE name.
-- @tparam string path the output as the game gave it
-- @treturn string the OS path to write
-- @treturn string|nil the path inside LÖVE's file system
function M.output(path)
  if type(path) ~= "string" or path == "" or path:match("^[/\\]") or path:match("^%a:") then return path end
  local rel = path:gsub("\\", "/"):gsub("/+", "/")
  while rel:sub(1, 2) == "./" do rel = rel:sub(3) end
  if rel == "" or rel:sub(-1) == "/" then return path end
  for part in rel:gmatch("[^/]+") do
    if part == ".." or part == "." then return path end
  end
  local fs = love.filesystem
  local dir = rel:match("^(.*)/[^/]*$")
  -- createDirectory makes the save directory too (LÖVE mounts it then), a file at its top included.
  if not fs.createDirectory(dir or "") and dir then return path end
  return fs.getSaveDirectory() .. "/" .. rel, rel
end

--- Adds the searcher to package.loaders (package.searchers), after the usual ones; once.
-- Does nothing outside LÖVE.
function M.install()
  if type(rawget(_G, "love")) ~= "table" or not love.filesystem then return false end
  local searchers = package.searchers or package.loaders -- luacheck: ignore 143 (Lua 5.1)
  for _, s in ipairs(searchers) do
    if s == M.searcher then return true end
  end
  searchers[#searchers + 1] = M.searcher
  return true
end

return M
