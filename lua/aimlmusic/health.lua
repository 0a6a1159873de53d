--- :checkhealth aimlmusic — what the plugin needs, checked without any network.
-- @module aimlmusic.health

local M = {}

-- Neovim 0.10 has vim.health.start/ok/…; 0.7 to 0.9 the report_* names (in `health`).
local function reporter()
  local h = vim.health
  if not (h and h.start) then
    local ok, legacy = pcall(require, "health")
    h = ok and legacy or h or {}
  end
  return {
    start = h.start or h.report_start,
    ok = h.ok or h.report_ok,
    warn = h.warn or h.report_warn,
    error = h.error or h.report_error,
    info = h.info or h.report_info,
  }
end

local TLS = { "OpenSSL", "BoringSSL", "LibreSSL", "GnuTLS", "NSS", "mbedTLS", "wolfSSL", "Schannel",
  "SecureTransport", "rustls", "BearSSL" }

--- The TLS backend named in a curl version string ("libcurl/7.88.1 OpenSSL/3.0.11 …").
---@param curl_version string
---@return string|nil
function M.tls_backend(curl_version)
  for _, name in ipairs(TLS) do
    local v = curl_version:match(name .. "/([%w%.%-]+)")
    if v then return name .. " " .. v end
  end
  return nil
end

local function where(name)
  local searchpath = package.searchpath
  local rtp = vim.api.nvim_get_runtime_file("lua/" .. name:gsub("%.", "/") .. ".so", false)[1]
  if rtp then return rtp end
  if searchpath then return searchpath(name, package.cpath) end
  return nil
end

--- Runs the checks (called by :checkhealth aimlmusic).
function M.check()
  local h = reporter()
  local plugin = require "aimlmusic.nvim"

  h.start("aimlmusic: module")
  local ok, music = pcall(plugin.library)
  if not ok then
    h.error(tostring(music))
    return
  end
  h.ok(music._VERSION .. " (" .. (vim.api.nvim_get_runtime_file("lua/aimlmusic.lua", false)[1] or "package.path") .. ")")
  local core = require "aimlmusic.core"
  h.ok(("core %s: %s"):format(core.version or "?", where("aimlmusic.core") or "found on package.cpath"))

  h.start("aimlmusic: libcurl")
  local cv = core.curl_version or ""
  h.ok(cv)
  local tls = M.tls_backend(cv)
  if tls then
    h.ok("TLS backend: " .. tls)
  else
    h.error("libcurl has no TLS backend: the API needs https")
  end

  h.start("aimlmusic: JSON")
  h.ok("JSON: the core's own (src/json.c), no other module needed")

  h.start("aimlmusic: key")
  local cfg = plugin.config
  if cfg.api_key_cmd then
    -- (a list whose program is not found raises: said, not a failed health check)
    local ran, out = pcall(vim.fn.system, cfg.api_key_cmd)
    if not ran then
      h.error("cannot run api_key_cmd: " .. tostring(out):gsub("^Vim:", ""))
    elseif vim.v.shell_error == 0 and out:match("%S") then
      h.ok("api_key_cmd prints a key (not shown)")
    else
      h.error("api_key_cmd failed or printed nothing (exit " .. vim.v.shell_error .. ")")
    end
  elseif (os.getenv("AIMLAPI_KEY") or "") ~= "" then
    h.ok("AIMLAPI_KEY is set (not shown)")
  else
    h.warn("no key: set AIMLAPI_KEY, or api_key_cmd in setup{}")
  end
  local base = cfg.base_url or os.getenv("AIMLAPI_BASE_URL")
  if base then h.info("base URL: " .. base) end

  h.start("aimlmusic: journal")
  local jpath = plugin.journal_path()
  if not jpath then
    h.warn("journal off (setup{journal = false}): a job in flight when Neovim exits is not resumed")
  else
    vim.fn.mkdir(vim.fn.fnamemodify(jpath, ":h"), "p")
    local f = io.open(jpath, "a")
    if f then
      f:close()
      h.ok("writable: " .. jpath)
    else
      h.error("not writable: " .. jpath)
    end
    local pending = plugin.pending()
    if #pending == 0 then
      h.ok("no unfinished jobs")
    else
      local ids = {}
      for _, p in ipairs(pending) do ids[#ids + 1] = p.id end
      h.warn(("%d unfinished job(s): %s"):format(#pending, table.concat(ids, ", ")), { ":AimlMusic resume" })
    end
  end

  h.start("aimlmusic: player")
  local player = plugin.player()
  if type(player) == "string" then
    h.ok("plays with the shell command " .. player)
  elseif player and vim.fn.executable(tostring(player[1])) ~= 1 then
    h.warn(("player %s is not found: :AimlMusic play cannot start it"):format(tostring(player[1])),
      { "set player in setup{} to a program on $PATH" })
  elseif player then
    h.ok("plays with " .. player[1])
  else
    h.info("no player (mpv, ffplay or paplay): :AimlMusic play is unavailable; nothing else needs one")
  end
end

return M
