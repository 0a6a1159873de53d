-- A download over HTTPS from a loopback server whose certificate a test CA made for this run
-- signed (DNS name localhost), with the CA given as ca_file. Runs on every system; under wine
-- (make windows-test) it is libcurl with Schannel that verifies the chain. Observed there: with
-- ca_file the chain is checked (another CA is refused); without it, wine's Schannel accepts a
-- certificate that no trusted CA signed, where Windows refuses it.

local music = require "aimlmusic"
local socket = require "socket"
local util = require "support.util"

local q = util.q
local BODY = string.rep("RIFF-track-bytes ", 4096) -- 68 KiB

-- True under wine: its ntdll exports wine_get_version.
local function under_wine()
  if package.config:sub(1, 1) ~= "\\" or not rawget(_G, "jit") then return false end
  local ffi = require "ffi"
  ffi.cdef [[
    void *GetModuleHandleA(const char *name);
    void *GetProcAddress(void *module, const char *name);
  ]]
  return ffi.C.GetProcAddress(ffi.C.GetModuleHandleA("ntdll.dll"), "wine_get_version") ~= nil
end

describe("HTTPS with a test CA as ca_file", function()
  local dir, port, pid, server

  setup(function()
    dir = util.tmpdir()
    local ssl = "cd " .. q(dir) .. " && env -u LD_PRELOAD openssl "
    util.write_file(dir .. "/ext.cnf", "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
      .. "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    for _, cmd in ipairs {
      "req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=aimlmusic test CA' -keyout ca.key -out ca.pem"
        .. " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
      "req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=another CA' -keyout other.key -out other.pem"
        .. " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
      "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out cert.csr",
      "x509 -req -in cert.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out cert.pem",
    } do
      local out = util.sh(ssl .. cmd .. " 2>&1; echo rc=$?")
      assert(out:match("rc=0%s*$"), "openssl " .. cmd .. ":\n" .. out)
    end
    -- s_server -HTTP serves a file of the directory as a whole HTTP response.
    util.write_file(dir .. "/track.wav", "HTTP/1.0 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: "
      .. #BODY .. "\r\n\r\n" .. BODY)
    port = util.free_port()
    server = assert(io.popen(("cd %s && echo $$ && exec env -u LD_PRELOAD timeout 120 openssl s_server -quiet"
      .. " -HTTP -accept 127.0.0.1:%d -cert cert.pem -key key.pem >/dev/null 2>&1"):format(q(dir), port)))
    pid = tonumber(server:read("*l"))
    local deadline = socket.gettime() + 10
    repeat
      local c = socket.connect("127.0.0.1", port)
      if c then
        c:close()
        break
      end
      socket.sleep(0.05)
    until socket.gettime() > deadline
  end)

  teardown(function()
    if pid then os.execute("kill " .. pid) end
    if server then server:close() end
    util.rm_rf(dir)
  end)

  local function download(opts, name)
    opts.api_key = "k"
    opts.base_url = "https://localhost:" .. port
    opts.max_retries = 0
    local client = assert(music.new(opts))
    return client:download("https://localhost:" .. port .. "/track.wav", dir .. "/" .. name)
  end

  it("downloads the file whole, the chain verified against ca_file", function()
    local info, err = download({ ca_file = dir .. "/ca.pem" }, "a.wav")
    assert.is_nil(err and tostring(err))
    assert.equal(#BODY, info.bytes)
    assert.equal(BODY, util.read_file(dir .. "/a.wav"))
  end)

  it("refuses the server when ca_file names another CA", function()
    local info, err = download({ ca_file = dir .. "/other.pem" }, "b.wav")
    assert.is_nil(info)
    assert.equal("network", err.kind)
    assert.equal("PEER_FAILED_VERIFICATION", err.code, tostring(err))
    assert.is_nil(util.read_file(dir .. "/b.wav"))
  end)

  if under_wine() then
    it("under wine, accepts the server without ca_file: wine's Schannel leaves the chain unchecked", function()
      local info, err = download({}, "c.wav")
      assert.is_nil(err and tostring(err))
      assert.equal(#BODY, info.bytes)
    end)
  else
    it("refuses the server without ca_file: its CA is not one the system trusts", function()
      local info, err = download({}, "c.wav")
      assert.is_nil(info)
      assert.equal("network", err.kind)
      assert.equal("PEER_FAILED_VERIFICATION", err.code, tostring(err))
      assert.is_nil(util.read_file(dir .. "/c.wav"))
    end)
  end
end)
