-- The first of the README's two commands, `make demo`, run as written in a copy of the
-- checkout (it builds there, starts the mock server itself and leaves demo-output/track.mp3),
-- with no AIMLAPI_KEY: the mock, never the service. (`make test`, the second, is this suite.)

local util = require "support.util"

local q, read_file = util.q, util.read_file

-- #posix: make and the demo's shell script
describe("make demo, as the README says #posix", function()
  local dir

  setup(function()
    dir = util.tmpdir(true)
  end)

  teardown(function()
    util.rm_rf(dir)
  end)

  it("builds, starts the mock, runs aimlmusic generate and leaves demo-output/track.mp3", function()
    local root = util.repo_root()
    local readme = assert(read_file(root .. "/README.md"))
    local block = assert(readme:match("## Two commands.-```sh\n(.-)```"), "README: no block under Two commands")
    local line = assert(block:match("^(make demo)%s"), "README: the first command is not make demo:\n" .. block)
    local copy = util.mkdir(dir .. "/copy")
    assert(util.execute("cd " .. q(root) .. " && git ls-files -co --exclude-standard -z | env -u LD_PRELOAD xargs -0 "
      .. "cp --parents -t " .. q(copy)))
    -- A user's shell: no key (the mock, not the billed service), none of the suite's LUA;
    -- CFLAGS=-O0 only makes the copy's build quicker.
    local r = util.run_each(copy, { "env -u AIMLAPI_KEY -u AIMLAPI_BASE_URL -u LUA CFLAGS=-O0 " .. line })[1]
    assert(r.ok, "make demo failed:\n" .. r.out)
    assert.matches("No AIMLAPI_KEY: using the mock server at http://127%.0%.0%.1:%d+", r.out)
    local track = assert(read_file(copy .. "/demo-output/track.mp3"), "no demo-output/track.mp3:\n" .. r.out)
    assert.is_true(#track > 1000, #track .. " bytes")
    -- what file(1) says of it, the demo's last line
    assert.matches("demo%-output/track%.mp3: [^\n]*MPEG[^\n]*layer III", r.out)
    -- the demo's own journal, with the job delivered
    local delivered = false
    for _, rec in ipairs(util.journal_records(copy .. "/demo-output/jobs.journal")) do
      if rec.op == "delivered" and rec.bytes == #track then delivered = true end
    end
    assert.is_true(delivered, read_file(copy .. "/demo-output/jobs.journal") or "no journal")
  end)
end)
