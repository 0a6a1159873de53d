-- The mock server's parts (lua/aimlmusic/mock/, wired by lua/aimlmusic/mock.lua): each depends
-- only on parts below it, and the HTTP server at the bottom serves any handler.

local util = require "support.util"

-- Lowest first: a part may require only the parts before it.
local ORDER = { "util", "mp3", "audio", "validate", "jobs", "http", "api", "faults", "control", "cli" }

describe("the mock's parts", function()
  local root = util.repo_root()

  it("require only parts below them: jobs knows no HTTP, http and cli nothing at all", function()
    local rank, files = {}, {}
    for i, name in ipairs(ORDER) do
      rank[name] = i
      files[i] = name .. ".lua"
    end
    table.sort(files)
    assert.same(files, util.ls(root .. "/lua/aimlmusic/mock"))
    for _, name in ipairs(ORDER) do
      local src = assert(util.read_file(root .. "/lua/aimlmusic/mock/" .. name .. ".lua")):gsub("%-%-[^\n]*", "")
      for dep in src:gmatch("require%s*%(?%s*[\"']([%w_.]+)[\"']") do
        local part = dep:match("^aimlmusic%.mock%.([%w_]+)$")
        -- aimlmusic.json, the library's JSON, is a leaf: it requires only the core
        assert.truthy(part or dep == "aimlmusic.json" or not dep:match("^aimlmusic"), name .. " requires " .. dep)
        if part then
          assert.truthy(rank[part] < rank[name], name .. " requires " .. dep .. ", which is not below it")
        end
        if name == "http" or name == "cli" then
          assert.truthy(dep == "luv" and name == "cli", name .. " requires " .. dep)
        end
      end
    end
  end)

  -- #posix: needs luv
  it("http serves any handler: pipelined requests, then a malformed one answered and closed #posix", function()
    local script = [==[
      local uv = require("luv")
      local http = require("aimlmusic.mock.http")
      local srv = http.new({ uv = uv, reject = function(status, message)
        return http.response(status, message, "text/plain")
      end })
      local _, port = assert(srv:listen("127.0.0.1", 0, function(req, conn)
        return http.response(200, req.method .. " " .. req.path .. " [" .. req.body .. "] #" .. conn.id, "text/plain")
      end))
      local client, got = uv.new_tcp(), ""
      client:connect("127.0.0.1", port, function(err)
        assert(not err, err)
        client:read_start(function(rerr, data)
          if data then got = got .. data end
          if rerr or not data then
            client:close()
            srv:close()
          end
        end)
        client:write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
          .. "GET /next?q=1 HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP\r\n\r\n")
      end)
      local timer = uv.new_timer()
      timer:start(5000, 0, function() client:close(); srv:close() end)
      timer:unref()
      uv.run()
      io.write(got)
    ]==]
    local path = os.tmpname()
    util.write_file(path, script)
    local got = util.sh("env -u LD_PRELOAD LUA_PATH='./lua/?.lua;;' " .. util.LUA .. " " .. util.q(path), true)
    os.remove(path)
    local bodies = {}
    for status, body in got:gmatch("HTTP/1%.1 (%d+) [^\r]*\r\n.-\r\n\r\n([^H]*)") do
      bodies[#bodies + 1] = status .. " " .. body
    end
    assert.same({ "200 POST /echo [hi] #1", "200 GET /next [] #1", "400 malformed request line" }, bodies, got)
    assert.truthy(got:find("Connection: close\r\n", 1, true), got)
  end)
end)
