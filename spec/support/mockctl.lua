-- spec/support/mockctl.lua: starts the mock server (bin/aimlmusic-mock) once per
-- test run and drives its control channel over plain LuaSocket HTTP, so the
-- specs of the library never depend on the library itself.
--
--   local mock = require("support.mockctl").start()
--   mock.api_url, mock.cdn_url, mock.key
--   mock:reset(); mock:config{ duration = 0.3 }; mock:fault{ status = 429 }
--   mock:requests(), mock:jobs()
--   local other = mockctl.spawn(dir .. "/?.lua;")  -- a mock of its own (another model table)
--
-- The process is started through io.popen(cmd, "w") with --watch-stdin: it exits
-- when the test process exits (its stdin pipe closes). Set AIMLMUSIC_MOCK_URLS to
-- "API_URL CDN_URL" to use a mock that is already running instead, and AIMLMUSIC_MOCK_LUA to
-- run the mock on another interpreter than the specs'.

local socket = require("socket")
local http = require("socket.http")
local ltn12 = require("ltn12")
local json = require("cjson").new()
local util = require("support.util")

local M = {}

-- busted insulates spec files (package.loaded is restored between them), so the
-- handle lives in the registry: one mock process for the whole run.
local REGISTRY_KEY = "aimlmusic.spec.mockctl"

local Handle = {}
Handle.__index = Handle

--- One HTTP request to the control channel. Raises on failure or a non-2xx answer.
function Handle:call(method, path, tbl)
  local body = tbl ~= nil and json.encode(tbl) or nil
  local headers = {}
  if body then
    headers["content-type"] = "application/json"
    headers["content-length"] = tostring(#body)
  end
  local chunks = {}
  local ok, code = http.request({
    url = self.api_url .. path,
    method = method,
    headers = headers,
    source = body and ltn12.source.string(body) or nil,
    sink = ltn12.sink.table(chunks),
  })
  local text = table.concat(chunks)
  if not ok then
    error("mock control " .. method .. " " .. path .. " failed: " .. tostring(code), 3)
  end
  if type(code) ~= "number" or code < 200 or code > 299 then
    error("mock control " .. method .. " " .. path .. " answered " .. tostring(code) .. ": " .. text, 3)
  end
  local dok, decoded = pcall(json.decode, text)
  if not dok then error("mock control " .. method .. " " .. path .. " returned non-JSON: " .. text, 3) end
  return decoded
end

--- Clear jobs, the request log and queued faults; restore the start configuration.
function Handle:reset()
  return self:call("POST", "/_mock/reset", {})
end

--- Merge settings: {duration=, key=, audio_seconds=, url_ttl=}. Returns the config.
function Handle:config(tbl)
  return self:call("POST", "/_mock/config", tbl or {})
end

--- Queue a fault (see lua/aimlmusic/mock.lua).
function Handle:fault(tbl)
  return self:call("POST", "/_mock/fault", tbl or {})
end

--- End the job id now: its next status is its last (completed, or the queued job error).
function Handle:finish(id)
  return self:call("POST", "/_mock/finish", { id = id })
end

--- Every request received on both hosts (excluding /_mock/), oldest first.
function Handle:requests()
  return self:call("GET", "/_mock/requests")
end

--- The jobs created so far: {id, model, status, created, format, ...}.
function Handle:jobs()
  return self:call("GET", "/_mock/jobs")
end

--- The faults still queued.
function Handle:faults()
  return self:call("GET", "/_mock/faults")
end

local function launch(path_prefix)
  local root = util.repo_root()
  -- The mock's interpreter: the specs' own, or AIMLMUSIC_MOCK_LUA (under wine the specs run on
  -- LuaJIT for Windows while the mock, which needs luv, runs on the host's Lua).
  local lua = os.getenv("AIMLMUSIC_MOCK_LUA") or util.LUA
  local port_file = os.tmpname()
  os.remove(port_file)
  local lua_path = (path_prefix or "") .. root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;"
    .. (os.getenv("LUA_PATH") or ";")
  -- LD_PRELOAD is dropped: the mock runs no sanitizer runtime
  -- bin/aimlmusic-mock puts the checkout's modules first; with a prefix the module is run
  -- directly, so that what lies under the prefix comes first.
  local entry, launcher = util.q(root .. "/bin/aimlmusic-mock"), nil
  if path_prefix then
    launcher = os.tmpname()
    util.write_file(launcher, "os.exit(require('aimlmusic.mock').main(arg))\n")
    entry = util.q(launcher)
  end
  -- The mock's JSON is the core's: the plain build for the mock's interpreter, never the
  -- sanitizers' builds the specs may run with (their runtime is not preloaded in the mock).
  local lua_cpath = util.plain_cpath(lua)
  local cmd = "exec env -u LD_PRELOAD LUA_PATH=" .. util.q(lua_path) .. " LUA_CPATH=" .. util.q(lua_cpath) .. " "
    .. lua .. " " .. entry
    .. " --port 0 --port-file " .. util.q(port_file) .. " --watch-stdin --duration 0.3 >/dev/null"
  local proc = io.popen(cmd, "w")
  if not proc then error("mockctl: cannot run " .. cmd, 3) end
  local deadline = socket.gettime() + 10
  local api_url, cdn_url
  repeat
    local s = util.read_file(port_file)
    if s then api_url, cdn_url = s:match("^(%S+)%s+(%S+)") end
    if not api_url then socket.sleep(0.02) end
  until api_url or socket.gettime() > deadline
  os.remove(port_file)
  if launcher then os.remove(launcher) end -- read by now, or never
  if not api_url then
    proc:close()
    error("mockctl: the mock server did not start within 10 s (command: " .. cmd .. ")", 3)
  end
  return setmetatable({ api_url = api_url, cdn_url = cdn_url, key = "test-key", proc = proc }, Handle)
end

--- Stops a mock started with M.spawn (its stdin closes: it exits).
function Handle:close()
  if self.proc then
    self.proc:close()
    self.proc = nil
  end
end

--- A mock of its own, which finds modules first under path_prefix ("DIR/?.lua;"): a spec can
-- give it another model table. Stop it with handle:close().
function M.spawn(path_prefix)
  return launch(path_prefix)
end

--- Start the mock (once per test run) and return its handle.
function M.start()
  local reg = debug.getregistry()
  local h = reg[REGISTRY_KEY]
  if h then return h end
  local urls = os.getenv("AIMLMUSIC_MOCK_URLS")
  if urls and urls ~= "" then
    local api_url, cdn_url = urls:match("^(%S+)%s+(%S+)")
    if not api_url then error("mockctl: AIMLMUSIC_MOCK_URLS must be \"API_URL CDN_URL\"", 2) end
    local key = os.getenv("AIMLMUSIC_MOCK_KEY") or "test-key"
    h = setmetatable({ api_url = api_url, cdn_url = cdn_url, key = key }, Handle)
  else
    h = launch()
  end
  reg[REGISTRY_KEY] = h
  return h
end

return M
