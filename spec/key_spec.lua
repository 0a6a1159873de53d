-- The key, as a hostile server or a proxy would get at it: echoed in another case,
-- percent-encoded, in base64 or in pieces, hidden in a refused redirect's host name, or sent
-- through a proxy from the environment. Against the mock over loopback, and a listener of the
-- spec's own standing in for a proxy.

local music = require "aimlmusic"
local core = require "aimlmusic.core"
local mockctl = require "support.mockctl"
local util = require "support.util"
local socket = require "socket"

local PARAMS = util.PARAMS
local KEY = "sk-live-0123456789abcdef" -- 24 bytes: any 8 of them in a row give it away
local SHORT = "tk-9f3a2b" -- 9 bytes: only the whole of it (in any form) is searched for

local base64 = require("aimlmusic.mock.faults").base64

local function percent(s, fmt)
  return (s:gsub(".", function(c) return (fmt or "%%%02X"):format(c:byte()) end))
end

-- What a server may make of key: {name, text}.
local function variants(key)
  local out = {
    { "as it is", key }, { "upper case", key:upper() }, { "mixed case", key:gsub("%a", string.upper, 3) },
    { "percent-encoded", percent(key) }, { "percent-encoded, lower hex", percent(key, "%%%02x") },
    { "half percent-encoded", key:sub(1, 5) .. percent(key:sub(6)) },
  }
  -- base64 at each of the three alignments, as in Basic auth or a Bearer header.
  for _, pre in ipairs { "", "Bearer ", "user:", "x" } do
    out[#out + 1] = { "base64 after " .. #pre .. " bytes", base64(pre .. key) }
    local url = base64(pre .. key):gsub("[+/=]", { ["+"] = "-", ["/"] = "_", ["="] = "" })
    out[#out + 1] = { "base64url after " .. #pre .. " bytes", url }
  end
  if #key >= 16 then
    out[#out + 1] = { "an 8-byte piece", key:sub(9, 16) }
    out[#out + 1] = { "its first half", key:sub(1, 12) }
    out[#out + 1] = { "a piece in upper case", key:sub(5, 14):upper() }
    out[#out + 1] = { "a piece percent-encoded", percent(key:sub(3, 11)) }
    out[#out + 1] = { "a piece in base64", base64(key:sub(4, 15)) }
  end
  return out
end

-- Every string in v, keys and values, at any depth.
local function strings(v, out)
  out = out or {}
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" then
    for k, x in pairs(v) do
      strings(k, out)
      strings(x, out)
    end
  end
  return out
end

local function assert_hidden(v, secret, what)
  for _, s in ipairs(strings(v)) do
    assert.is_nil(s:find(secret, 1, true), what .. " shows " .. secret .. ": " .. s)
  end
end

describe("the key", function()
  local mock

  setup(function()
    mock = mockctl.start()
  end)

  after_each(function()
    mock:config { key = mockctl.start().key }
  end)

  local function client_with(key, extra)
    mock:reset()
    mock:config { duration = 0.1, key = key }
    local o = { api_key = key, base_url = mock.api_url, poll_interval = 0.05, max_retries = 0 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return assert(music.new(o))
  end

  describe("echoed by a server in another form", function()
    for _, key in ipairs { KEY, SHORT } do
      for _, v in ipairs(variants(key)) do
        local name, text = v[1], v[2]
        it(("never shows (%d-byte key) %s: %s"):format(#key, name, text), function()
          local client = client_with(key)
          mock:fault { method = "POST", status = 500, json = { statusCode = 500, message = "token <" .. text .. ">" } }
          local _, err = client:submit(PARAMS)
          assert.equal("server", err.kind)
          assert.matches("<[redacted]>", err.message, 1, true)
          assert_hidden(err, text, "err")
          assert.is_nil(tostring(err):find(text, 1, true))
          local job = assert(client:submit(PARAMS))
          mock:fault { method = "GET", status = 200, json = { id = job.id, status = "queued", trace_id = text,
                                                              echo = { [text] = { deeper = "a " .. text .. " b" } } } }
          local st = assert(client:status(job.id))
          assert.equal("[redacted]", st.trace_id)
          assert.equal("a [redacted] b", st.raw.echo["[redacted]"].deeper)
          assert_hidden(st, text, "st")
        end)
      end
    end

    it("leaves no piece of a random key in random text that hides it in every form (200 cases)", function()
      math.randomseed(18)
      local ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
      local function pick(s) local i = math.random(#s) return s:sub(i, i) end
      local function random_case(s)
        return (s:gsub("%a", function(c) return math.random(2) == 1 and c:upper() or c:lower() end))
      end
      local function some_percent(s)
        return (s:gsub(".", function(c) return math.random(3) == 1 and ("%%%02X"):format(c:byte()) or c end))
      end
      local function folded_plain(s)
        return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)):lower()
      end
      for case = 1, 200 do
        local key = {}
        for i = 1, math.random(16, 40) do key[i] = pick(ALNUM) end
        key = table.concat(key)
        local parts = {}
        for _ = 1, math.random(1, 6) do
          local from = math.random(1, #key - 7)
          local piece = key:sub(from, math.random(from + 7, #key))
          local form = math.random(4)
          if form == 1 then piece = random_case(piece)
          elseif form == 2 then piece = some_percent(random_case(piece))
          elseif form == 3 then piece = base64(("x"):rep(math.random(0, 2)) .. piece) end
          parts[#parts + 1] = ("%s"):rep(math.random(0, 3)):gsub("%%s", function() return pick(ALNUM .. " :/=") end)
          parts[#parts + 1] = piece
        end
        local text = table.concat(parts)
        local client = client_with(key)
        mock:fault { method = "POST", status = 500, json = { statusCode = 500, message = text } }
        local _, err = client:submit(PARAMS)
        local out = folded_plain(err.message)
        for i = 1, #key - 7 do
          local piece = key:sub(i, i + 7):lower()
          assert.is_nil(out:find(piece, 1, true),
            ("case %d: %q left in %q (from %q)"):format(case, piece, err.message, text))
        end
        for a = 0, 2 do
          local enc = base64(("x"):rep(a) .. key)
          for i = 3, #enc - 12 do
            local w = enc:sub(i, i + 9)
            assert.is_nil(err.message:find(w, 1, true), ("case %d: base64 %q left in %q"):format(case, w, err.message))
          end
        end
      end
    end)

    it("through the mock's echo_key fault, in each of its forms", function()
      local client = client_with(KEY)
      for _, form in ipairs { "key", "key_upper", "key_percent", "key_base64", "key_piece" } do
        mock:fault { method = "POST", status = 401, echo_key = true,
                     json = { statusCode = 401, message = "bad token {" .. form .. "}" } }
        local _, err = client:submit(PARAMS)
        assert.equal("auth", err.kind)
        assert.equal("bad token [redacted]", err.message, form)
      end
    end)

    it("leaves text that only looks like it alone", function()
      local client = client_with(KEY)
      local near = "sk-live-XYZ " .. KEY:sub(1, 7) .. " " .. KEY:sub(10, 16) .. " " .. base64(KEY:sub(1, 6))
      mock:fault { method = "POST", status = 500, json = { statusCode = 500, message = near } }
      local _, err = client:submit(PARAMS)
      -- "sk-live-" is 8 bytes of the key: that much is a piece and goes; the rest stays.
      assert.equal("[redacted]XYZ sk-live 1234567 c2stbGl2", err.message)
    end)

    it("costs time in proportion to the body, however many near misses it holds", function()
      local client = client_with(KEY)
      local function took(message)
        mock:fault { method = "POST", status = 500, json = { statusCode = 500, message = message } }
        local t0 = core.now()
        local _, err = client:submit(PARAMS)
        assert.equal("server", err.kind)
        return core.now() - t0, err
      end
      local n = 900 * 1024
      local base = took(("x"):rep(n))
      -- Near misses everywhere: 7 bytes of the key, then one that differs.
      local hostile, err = took((KEY:sub(1, 7) .. "!"):rep(n / 8))
      assert.is_nil(err.message:find("[redacted]", 1, true))
      assert.is_true(hostile < base * 10 + 0.5, ("%.3f s against %.3f s for plain text"):format(hostile, base))
    end)
  end)

  describe("in a refused redirect's host name", function()
    it("never reaches the error", function()
      local client = client_with(KEY)
      local job = assert(client:submit(PARAMS))
      local st = assert(client:wait(job))
      for _, form in ipairs { "key", "key_piece" } do
        mock:fault { host = "cdn", status = 302, echo_key = true,
                     headers = { Location = "http://{" .. form .. "}.example.invalid/a.wav" } }
        local dir = util.tmpdir()
        local info, err = client:download(st, dir .. "/a.wav")
        util.rm_rf(dir)
        assert.is_nil(info)
        assert.equal("config", err.kind, tostring(err))
        assert.matches("plain http", err.message)
        assert.matches("[redacted]", err.message, 1, true)
        assert_hidden(err, KEY:sub(9, 16), "err")
      end
    end)
  end)

  describe("and a proxy", function()
    local listener, port, dir

    before_each(function()
      listener = assert(socket.bind("127.0.0.1", 0))
      listener:settimeout(0)
      port = select(2, listener:getsockname())
      dir = util.tmpdir()
    end)

    after_each(function()
      listener:close()
      util.rm_rf(dir)
    end)

    -- What the stand-in proxy received: every byte of every connection made to it.
    local function received()
      local all = {}
      while true do
        local conn = listener:accept()
        if not conn then break end
        conn:settimeout(0.5)
        local data, _, partial = conn:receive("*a")
        all[#all + 1] = data or partial or ""
        conn:close()
      end
      return table.concat(all)
    end

    it("from the environment never sees a request to a loopback API or CDN", function()
      mock:reset()
      mock:config { duration = 0.1 }
      local script = dir .. "/child.lua"
      util.write_file(script, ([[
        package.path, package.cpath = %q, %q
        local music = require "aimlmusic"
        local c = assert(music.new { api_key = %q, base_url = %q, poll_interval = 0.05, timeout = 3,
                                     max_retries = 0 })
        local job, err = c:submit(%s)
        local st = job and c:wait(job)
        local info = st and c:download(st, %q)
        print(job and "submitted" or tostring(err), st and st.status, info and info.bytes)
      ]]):format(package.path, package.cpath, mock.key, mock.api_url,
        "{ model = 'minimax/music-2.0', prompt = 'A quiet song for a test', lyrics = 'la la la la la la' }",
        dir .. "/a.mp3"))
      local proxy = "http://127.0.0.1:" .. port
      local env = {}
      for _, name in ipairs { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy" } do
        env[#env + 1] = name .. "=" .. proxy
      end
      env = table.concat(env, " ") .. " no_proxy= NO_PROXY="
      local out = util.sh("env " .. env .. " " .. util.LUA .. " " .. util.q(script), true)
      local got = received()
      assert.equal("", got, "the proxy received: " .. got)
      assert.matches("^submitted%s+completed%s+%d+", out)
      assert.equal(1, #util.select_reqs(mock:requests(), "api", "POST"))
    end)

    it("of the proxy option is passed by for a loopback API", function()
      local client = client_with(mock.key, { proxy = "http://127.0.0.1:" .. port, timeout = 3 })
      assert(client:submit(PARAMS))
      assert.equal("", received())
    end)

    it("in plain http beyond loopback needs allow_http, as plain http itself does", function()
      local c, err = music.new { api_key = KEY, base_url = "http://api.example.com", proxy = "http://127.0.0.1:9" }
      assert.is_nil(c)
      assert.equal("config", err.kind)
      assert.matches("allow_http", err.message)
      assert(music.new { api_key = KEY, base_url = "http://api.example.com", proxy = "http://127.0.0.1:9",
                         allow_http = true })
      -- Over https the key goes inside the proxy's CONNECT tunnel, encrypted.
      assert(music.new { api_key = KEY, base_url = "https://api.example.com", proxy = "http://127.0.0.1:9" })
    end)
  end)
end)
