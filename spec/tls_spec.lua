-- Transport security: TLS verification against a real TLS server (openssl s_server) on
-- loopback, the proxy option, and plain http refused beyond loopback.

local music = require "aimlmusic"
local mockctl = require "support.mockctl"
local util = require "support.util"
local tls_server = require "support.tls_server"

describe("transport security", function()
  local dir, server

  setup(function()
    dir = util.tmpdir()
    server = tls_server.start(dir, "-www")
  end)

  teardown(function()
    if server then server.stop() end
    util.rm_rf(dir)
  end)

  local function status_via(opts)
    opts.api_key = "k"
    opts.base_url = "https://127.0.0.1:" .. server.port
    opts.max_retries = 0
    local client = assert(music.new(opts))
    return client:status("x:minimax/music-2.0")
  end

  -- #posix: needs OpenSSL's libcurl: Schannel in libcurl 7.88 cannot match an IP address
  it("refuses a self-signed certificate by default #posix", function()
    local st, err = status_via {}
    assert.is_nil(st)
    assert.equal("network", err.kind)
    assert.equal("PEER_FAILED_VERIFICATION", err.code)
    assert.is_false(err.retryable)
  end)

  -- #posix: needs OpenSSL's libcurl: Schannel in libcurl 7.88 cannot match an IP address
  it("accepts it with ca_file naming the certificate #posix", function()
    local st, err = status_via { ca_file = dir .. "/cert.pem" }
    -- The TLS session is up; s_server's status page is not the API's JSON.
    assert.is_nil(st)
    assert.equal("protocol", err.kind)
  end)

  -- #posix: needs OpenSSL's libcurl: Schannel in libcurl 7.88 cannot match an IP address
  it("accepts any certificate only when tls_verify = false is given by name #posix", function()
    local _, err = status_via { tls_verify = false }
    assert.equal("protocol", err.kind)
  end)

  -- #posix: needs OpenSSL's libcurl: Schannel in libcurl 7.88 cannot match an IP address
  it("keeps each client's verification its own while clients take turns on the pooled handles #posix", function()
    local base = "https://127.0.0.1:" .. server.port
    local lax = assert(music.new { api_key = "k", base_url = base, max_retries = 0, tls_verify = false })
    local strict = assert(music.new { api_key = "k", base_url = base, max_retries = 0 })
    for _ = 1, 3 do
      local _, err = lax:status("x:minimax/music-2.0")
      assert.equal("protocol", err.kind)
      _, err = strict:status("x:minimax/music-2.0")
      assert.equal("PEER_FAILED_VERIFICATION", err.code)
    end
  end)

  it("refuses a ca_file or proxy with control characters", function()
    local c, err = music.new { api_key = "k", base_url = "https://127.0.0.1", ca_file = "a\nb" }
    assert.is_nil(c)
    assert.equal("config", err.kind)
    c, err = music.new { api_key = "k", base_url = "https://127.0.0.1", proxy = "http://x\r\n" }
    assert.is_nil(c)
    assert.equal("config", err.kind)
  end)

  describe("plain http", function()
    it("is accepted for loopback hosts", function()
      assert.truthy(music.new { api_key = "k", base_url = "http://127.0.0.1:9" })
      assert.truthy(music.new { api_key = "k", base_url = "http://localhost:9" })
      assert.truthy(music.new { api_key = "k", base_url = "http://[::1]:9" })
    end)

    it("is refused for other hosts unless allow_http = true", function()
      local c, err = music.new { api_key = "k", base_url = "http://api.example.com" }
      assert.is_nil(c)
      assert.equal("config", err.kind)
      assert.matches("allow_http", err.message)
      assert.truthy(music.new { api_key = "k", base_url = "http://api.example.com", allow_http = true })
    end)

    it("is refused for an audio URL on another host", function()
      local c = assert(music.new { api_key = "k", base_url = "https://api.example.com" })
      local info, err = c:download("http://cdn.example.com/a.mp3", dir .. "/a.mp3")
      assert.is_nil(info)
      assert.equal("config", err.kind)
    end)
  end)

  describe("proxy", function()
    it("sends requests through the proxy option", function()
      local mock = mockctl.start()
      mock:reset()
      local c = assert(music.new { api_key = mock.key, base_url = "http://api.example.invalid",
        allow_http = true, proxy = mock.api_url, max_retries = 0 })
      c:status("x:minimax/music-2.0")
      local reqs = mock:requests()
      assert.equal(1, #reqs)
      -- The mock, as the proxy, received the request meant for the real target.
      assert.equal("api.example.invalid", reqs[1].headers.host)
      assert.equal("/v2/generate/audio", reqs[1].path)
    end)
  end)
end)
