-- Connections: a submit reuses a connection yet is never sent twice, whatever the server does
-- after (or instead of) reading it; polls and submits share connections, over HTTP/2 where the
-- server offers it; TLS keeps libcurl's parsed CA store. Real servers on loopback: nginx over
-- TLS with a CA made for the run, and a scripted server (support/badpeer.py) for the ways a
-- connection can end under a request.

local music = require "aimlmusic"
local peers = require "support.peers"
local util = require "support.util"

local PARAMS = util.PARAMS

describe("connections", function()
  local dir, ca

  setup(function()
    dir = util.tmpdir()
    ca = peers.ca(dir)
  end)

  teardown(function()
    util.rm_rf(dir)
  end)

  local function client_for(url, extra)
    local opts = { api_key = "k", base_url = url, ca_file = ca.ca, max_retries = 3 }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return assert(music.new(opts))
  end

  describe("a submit", function()
    -- #posix: the h2 cases: TLS to 127.0.0.1, and Schannel in libcurl 7.88 cannot match an IP address
    for _, proto in ipairs { "h1", "h2" } do
      it("reuses the connection of the one before over " .. proto .. (proto == "h2" and " #posix" or ""), function()
        local srv = peers.badpeer(dir, proto, "none", 0)
        finally(srv.stop)
        local client = client_for(srv.url)
        for _ = 1, 3 do assert(client:submit(PARAMS)) end
        assert(client:status("job-1:minimax/music-2.0"))
        assert.equal(3, srv.posts())
        -- A resend was refused before it went out, on the connection libcurl opened for it.
        assert.is_true(srv.accepts() <= 2)
      end)
    end

    -- What the server does to the second POST (on the connection the first one left open),
    -- and how many POSTs it read in all: the first, and the second when it read it.
    local WHAT = {
      close = "closes the connection after reading it", reset = "resets the connection after reading it",
      unread = "drops it unread (the keep-alive race)", goaway = "sends GOAWAY after reading it",
      refused = "resets its stream with REFUSED_STREAM",
    }
    local cases = {
      { "h1", "close", 2 }, { "h1", "reset", 2 }, { "h1", "unread", 1 },
      { "h2", "close", 2 }, { "h2", "reset", 2 }, { "h2", "unread", 1 },
      { "h2", "goaway", 2 }, { "h2", "refused", 2 },
    }
    for _, c in ipairs(cases) do
      local proto, mode, posts = c[1], c[2], c[3]
      -- #posix: the h2 cases: TLS to 127.0.0.1, and Schannel in libcurl 7.88 cannot match an IP address
      it("on a reused connection is sent once when the server " .. WHAT[mode] .. " (" .. proto .. ")"
        .. (proto == "h2" and " #posix" or ""), function()
        local srv = peers.badpeer(dir, proto, mode, 2)
        finally(srv.stop)
        local client = client_for(srv.url)
        assert(client:submit(PARAMS))
        local job, err = client:submit(PARAMS)
        assert.equal(posts, srv.posts()) -- one job from this call at most: never a second
        assert.is_nil(job)
        assert.equal("network", err.kind)
        assert.is_false(err.retryable)
        assert.matches("may have reached the server", err.message, 1, true)
        -- A resend was refused before it went out, on the connection libcurl opened for it.
        assert.is_true(srv.accepts() <= 2)
        -- The next submit goes on as usual, on a new connection.
        assert(client:submit(PARAMS))
        assert.equal(posts + 1, srv.posts())
      end)
    end

    it("never sent is retried as before: a refused connection", function()
      local port = util.free_port()
      local client = client_for("http://127.0.0.1:" .. port, { max_retries = 0 })
      local job, err = client:submit(PARAMS)
      assert.is_nil(job)
      assert.equal("COULDNT_CONNECT", err.code)
      assert.is_true(err.retryable)
      assert.no_match("may have reached", err.message, 1, true)
    end)
  end)

  -- #posix: needs OpenSSL's libcurl: wine's Schannel fails nginx's handshake (SEC_E_INTERNAL_ERROR)
  describe("over TLS with nginx #posix", function()
    for _, h2 in ipairs { false, true } do
      local proto = h2 and "HTTP/2.0" or "HTTP/1.1"
      it("submits and polls on one connection over " .. proto, function()
        local srv = peers.nginx(dir, h2)
        finally(srv.stop)
        local client = client_for(srv.url)
        for _ = 1, 20 do
          local job = assert(client:submit(PARAMS))
          local st = assert(client:status(job.id))
          assert.equal("generating", st.status)
        end
        local reqs = srv.requests(40)
        assert.equal(40, #reqs)
        for _, l in ipairs(reqs) do assert.matches(proto, l, 1, true) end
        assert.equal(1, srv.connections(40))
      end)
    end

    it("runs 100 jobs on at most 2 connections over HTTP/2", function()
      local srv = peers.nginx(dir, true)
      finally(srv.stop)
      local client = client_for(srv.url)
      local tasks = {}
      for i = 1, 100 do
        tasks[i] = music.spawn(function()
          local job, err = client:submit(PARAMS)
          if not job then return nil, err end
          return client:status(job.id)
        end)
      end
      music.run()
      for i = 1, 100 do
        local st, err = tasks[i]:result()
        assert(st, tostring(err))
        assert.equal("generating", st.status)
      end
      assert.equal(200, #srv.requests(200))
      local n = srv.connections(200)
      assert.is_true(n <= 2, n .. " connections")
    end)

    it("parses the CA bundle once, not for every connection", function()
      -- Debian's CAs and the test CA; each request on a new connection (nginx closes it).
      local bundle = dir .. "/bundle.pem"
      assert(util.execute(("cat /etc/ssl/certs/ca-certificates.crt %s > %s"):format(util.q(ca.ca), util.q(bundle))))
      local srv = peers.nginx(dir, false, true)
      finally(srv.stop)
      local function cpu_per_connection(opts)
        local client = client_for(srv.url, opts)
        assert(client:status("a:b"))
        collectgarbage("collect") -- no collection cycle of a long run's heap inside the window
        local t0 = os.clock()
        for _ = 1, 10 do assert(client:status("a:b")) end
        return (os.clock() - t0) / 10
      end
      -- A CA directory makes libcurl parse the bundle for each connection: the baseline.
      local parsing = cpu_per_connection { ca_file = bundle, ca_path = "/etc/ssl/certs" }
      local cached = cpu_per_connection { ca_file = bundle }
      assert.is_true(cached < parsing / 2, ("%.2f ms against %.2f ms"):format(cached * 1e3, parsing * 1e3))
    end)

    it("verifies with a CA directory named by ca_path", function()
      local cadir = util.mkdir(dir .. "/cadir")
      local q = util.q(cadir)
      assert(util.execute(("cp %s %s/ && env -u LD_PRELOAD openssl rehash %s"):format(util.q(ca.ca), q, q)))
      local srv = peers.nginx(dir, true)
      finally(srv.stop)
      local bundle = "/etc/ssl/certs/ca-certificates.crt" -- without the test CA
      local st = assert(client_for(srv.url, { ca_file = bundle, ca_path = cadir }):status("a:b"))
      assert.equal("generating", st.status)
      local _, err = client_for(srv.url, { ca_file = bundle, max_retries = 0 }):status("a:b")
      assert.equal("PEER_FAILED_VERIFICATION", err.code)
    end)
  end)
end)
