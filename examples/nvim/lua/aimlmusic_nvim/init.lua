-- The logic behind :AimlMusic (see plugin/aimlmusic.lua for installation).
--
--   require("aimlmusic_nvim").setup {
--     model = "minimax/music-2.0",   -- or "minimax/music-1.5"
--     api_key = nil,                 -- default: AIMLAPI_KEY
--     base_url = nil,                -- default: AIMLAPI_BASE_URL, then https://api.aimlapi.com
--     poll_interval = nil,           -- seconds between status polls (library default: 5)
--     audio_setting = { format = "mp3" },
--   }
--
-- The job runs as an aimlmusic task driven by Neovim's own libuv loop (aimlmusic.uv): no
-- thread, no polling timer, nothing blocks the editor. Library callbacks run inside libuv
-- callbacks, where the editor API is off limits, so everything they show goes through
-- vim.schedule.

local M = {}

local config = {
  model = "minimax/music-2.0",
  api_key = nil,
  base_url = nil,
  poll_interval = nil,
  audio_setting = { format = "mp3" },
}

local music, client
local reserved = {} -- output paths chosen by jobs still running

local levels = vim.log.levels

-- From any context: the message is shown once the editor can take it.
local function notify(msg, level)
  vim.schedule(function()
    vim.notify("AimlMusic: " .. msg, level or levels.INFO)
  end)
end

--- Merges opts into the configuration; the next :AimlMusic uses a new client.
function M.setup(opts)
  for k, v in pairs(opts or {}) do config[k] = v end
  client = nil
end

-- Loads the library and attaches it to Neovim's loop, once.
local function get_client()
  if not music then
    music = require("aimlmusic")
    local adapter = require("aimlmusic.uv")
    if not adapter.attached() then adapter.attach(vim.uv or vim.loop) end
  end
  if not client then
    local err
    client, err = music.new {
      api_key = config.api_key,
      base_url = config.base_url,
      poll_interval = config.poll_interval,
    }
    if not client then return nil, err end
  end
  return client
end

local function exists(path)
  return reserved[path] or (vim.uv or vim.loop).fs_stat(path) ~= nil
end

-- <dir>/<stem>.<ext>, or <stem>-1.<ext>, <stem>-2.<ext>... when taken.
local function free_path(dir, stem, ext)
  local path = dir .. "/" .. stem .. "." .. ext
  local i = 0
  while exists(path) do
    i = i + 1
    path = ("%s/%s-%d.%s"):format(dir, stem, i, ext)
  end
  return path
end

-- Where the track of buffer buf goes: next to its file (its name with the audio format's
-- extension), else in the current directory. Returns the directory and the stem.
local function output_for(buf)
  local name = vim.api.nvim_buf_get_name(buf)
  if name == "" then return vim.fn.getcwd(), "aimlmusic" end
  local full = vim.fn.fnamemodify(name, ":p")
  local stem = vim.fn.fnamemodify(full, ":t:r")
  if stem == "" then stem = vim.fn.fnamemodify(full, ":t") end
  return vim.fn.fnamemodify(full, ":h"), stem
end

local function describe(err)
  local lines = { tostring(err) }
  for _, f in ipairs(err.fields or {}) do
    lines[#lines + 1] = ("  %s: %s"):format(f.field, f.message)
  end
  return table.concat(lines, "\n")
end

-- Runs in the task: generate, and if the file appeared meanwhile, download to the next free name.
local function run(c, params, out, buf_label)
  local last_pct = -1
  local function on_progress(done, total)
    if total and total > 0 then
      local pct = math.floor(done * 100 / total)
      if pct >= last_pct + 25 or (pct == 100 and last_pct < 100) then
        last_pct = pct
        notify(("downloading %d%%"):format(pct))
      end
    end
  end
  local opts = {
    output = out.path,
    on_status = function(st) notify(("%s (%s)"):format(st.status, st.id or "?")) end,
    on_progress = on_progress,
  }
  local st, err = c:generate(params, opts)
  local job = err and err.url and { id = err.id, url = err.url }
  while not st and job and err.kind == "io" and err.code == "EEXIST" do
    -- Something took the name while the job ran: the job is paid for, keep it under another.
    reserved[out.path] = nil
    out.path = free_path(out.dir, out.stem, out.ext)
    reserved[out.path] = true
    local info
    info, err = c:download(job, out.path, { on_progress = on_progress })
    if info then st = { path = info.path, bytes = info.bytes } end
  end
  reserved[out.path] = nil
  if st then
    notify(("saved %s (%d bytes) for %s"):format(st.path, st.bytes or 0, buf_label))
  else
    notify("failed: " .. describe(err), levels.ERROR)
  end
  return st, err
end

--- Generates a track from prompt with buffer buf's text (default: the current buffer) as the
--- lyrics. Returns the task, or nil when the request was refused before anything was sent.
function M.generate(prompt, buf)
  buf = buf or vim.api.nvim_get_current_buf()
  local ok, c, err = pcall(get_client)
  if not ok then
    vim.notify("AimlMusic: cannot load aimlmusic: " .. tostring(c), levels.ERROR)
    return nil
  end
  if not c then
    vim.notify("AimlMusic: " .. describe(err), levels.ERROR)
    return nil
  end
  local params = {
    model = config.model,
    prompt = prompt,
    lyrics = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n"),
    audio_setting = config.audio_setting,
  }
  local valid, verr = music.validate(params)
  if not valid then
    vim.notify("AimlMusic: " .. describe(verr), levels.ERROR)
    return nil
  end
  local out = { ext = (config.audio_setting or {}).format or "mp3" }
  out.dir, out.stem = output_for(buf)
  out.path = free_path(out.dir, out.stem, out.ext)
  reserved[out.path] = true
  local label = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(buf), ":t")
  vim.notify(("AimlMusic: submitting to %s, saving to %s"):format(config.model, out.path))
  return music.spawn(function()
    -- A raise inside the task would surface in a libuv callback: report it instead.
    -- (LuaJIT, Neovim's Lua, lets a task yield inside xpcall.)
    local tok, st, terr = xpcall(function()
      return run(c, params, out, label ~= "" and label or "[No Name]")
    end, debug.traceback)
    if not tok then
      reserved[out.path] = nil
      notify("error: " .. tostring(st), levels.ERROR)
      return nil
    end
    return st, terr
  end)
end

return M
