-- aimlmusic.mock.jobs: the job state machine. A valid body makes a job; as time passes it is
-- queued, then generating, then completed (or error, when one was scripted for it). A job
-- knows its audio, the signed URL it is served at and the answer a poll gets. No HTTP here:
-- the hosts (aimlmusic.mock.api) turn these into responses.

local util = require("aimlmusic.mock.util")
local validate = require("aimlmusic.mock.validate")
local audio = require("aimlmusic.mock.audio")

local isnull, copy, fmt_int, rand_chars = util.isnull, util.copy, util.fmt_int, util.rand_chars

local M = {}

-- Credits a completed job reports; a model not listed here costs DEFAULT_CREDITS.
local CREDITS = { ["minimax/music-2.0"] = 126, ["minimax/music-1.5"] = 105 }
local DEFAULT_CREDITS = 100
local MB = 1000 * 1000

local Jobs = {}
Jobs.__index = Jobs

--- A store of jobs. opts: models (the model table), ms() (a monotonic clock, milliseconds),
-- now() (the wall clock, seconds), next_error() (the failure scripted for the next job, or
-- nil), cdn_url (where the audio is served; may be set later).
function M.new(opts)
  local self = setmetatable({
    models = opts.models, ms = opts.ms, now = opts.now, next_error = opts.next_error, cdn_url = opts.cdn_url,
  }, Jobs)
  self:reset()
  return self
end

--- Forget every job.
function Jobs:reset()
  self.by_id, self.list, self.tokens = {}, {}, {}
end

--- Make a job of a decoded body with the settings of config (duration, audio_seconds,
-- url_ttl). Returns the job, or nil and the list of problems with the body.
function Jobs:create(body, config)
  local problems, inputs = validate.body(self.models, body)
  if #problems > 0 then return nil, problems end
  local entry = self.models[body.model]
  local as = type(body.audio_setting) == "table" and body.audio_setting or {}
  local rate = not isnull(as.audio_sample_rate) and as.audio_sample_rate
    or not isnull(as.sample_rate) and as.sample_rate or 44100
  -- A field marked duration sets the length of the audio (its default when not given).
  local seconds = config.audio_seconds
  for _, spec in ipairs(entry.fields) do
    local v = validate.wire_value(body, spec)
    if v == nil then v = spec.default end
    if spec.duration and type(v) == "number" then
      seconds = spec.duration == "ms" and v / 1000 or v
    end
  end
  local now = self.now()
  local job = {
    id = util.uuid4() .. ":" .. body.model,
    model = body.model,
    format = isnull(as.format) and (entry.format or "mp3") or as.format,
    sample_rate = math.floor(rate),
    bitrate = math.floor(isnull(as.bitrate) and 256000 or as.bitrate),
    channels = 1,
    created = now,
    t0 = self.ms(),
    duration = config.duration,
    audio_seconds = seconds,
    inputs = inputs,
    body = body,
    token = rand_chars(util.ALNUM, 24),
    signature = rand_chars(util.HEX, 40),
    trace_id = rand_chars(util.HEX, 32),
    error = self.next_error(),
  }
  job.expires = math.floor(now + job.duration + config.url_ttl)
  self.by_id[job.id] = job
  self.list[#self.list + 1] = job
  self.tokens[job.token] = job
  return job
end

--- The job of an id, or nil.
function Jobs:find(id)
  return self.by_id[id]
end

--- The job whose audio URL carries token, or nil.
function Jobs:by_token(token)
  return self.tokens[token]
end

--- Let a job end now, as a job of the service sometimes ends sooner than the others: its
-- duration becomes the time it has run. Returns true | nil, err.
function Jobs:finish(id)
  local job = self.by_id[id]
  if not job then return nil, "no job " .. tostring(id) end
  job.duration = math.min(job.duration, (self.ms() - job.t0) / 1000)
  return true
end

--- "queued", "generating", "completed" or "error": by the time since the job was made.
function Jobs:status(job)
  local elapsed = (self.ms() - job.t0) / 1000
  if elapsed >= job.duration then
    return job.error and "error" or "completed"
  elseif elapsed < job.duration / 3 then
    return "queued"
  end
  return "generating"
end

--- The bytes of a job's audio.
function Jobs.audio(_, job)
  return audio.render(job.format, job.sample_rate, job.audio_seconds)
end

--- The signed URL of a job's audio.
function Jobs:audio_url(job)
  return self.cdn_url .. "/audio/" .. job.token .. "." .. job.format .. "?Expires=" .. fmt_int(job.expires)
    .. "&Signature=" .. job.signature
end

-- What the mock knows of a job's audio, by the st names of the model's response mapping.
local function audio_facts(job, bytes)
  local f = {
    duration_ms = math.floor(job.audio_seconds * 1000 + 0.5),
    sample_rate = job.sample_rate,
    channels = job.channels,
    bitrate = job.bitrate,
    size = #bytes,
    content_type = audio.CONTENT_TYPES[job.format],
    file_name = job.token .. "." .. job.format,
  }
  if job.format == "mp3" then
    -- The MP3 is a fixed fixture: describe the file actually served.
    for k, v in pairs(audio.MP3_FACTS) do f[k] = v end
  end
  return f
end

-- Sets obj at the dotted path to v, creating the objects on the way.
local function set_path(obj, path, v)
  local parts = {}
  for p in path:gmatch("[^.]+") do parts[#parts + 1] = p end
  for i = 1, #parts - 1 do
    if type(obj[parts[i]]) ~= "table" then obj[parts[i]] = {} end
    obj = obj[parts[i]]
  end
  obj[parts[#parts]] = v
end

--- What a poll of the job answers: {id, status, ...}, and once done the audio (where the
-- model's response mapping reads it) or the error.
function Jobs:view(job)
  local st = self:status(job)
  local v = { id = job.id, status = st }
  if st == "completed" then
    local facts = audio_facts(job, self:audio(job))
    v.audio_file = { url = self:audio_url(job) }
    local entry = self.models[job.model] or {}
    for _, r in ipairs(entry.response or {}) do
      if facts[r.to] ~= nil then set_path(v, r.from, facts[r.to]) end
    end
    v.meta = { usage = { credits_used = CREDITS[job.model] or DEFAULT_CREDITS } }
    v.trace_id = job.trace_id
  elseif st == "error" then
    v.error = { name = job.error.name, message = job.error.message }
    v.trace_id = job.trace_id
  end
  return v
end

--- The jobs, oldest first: {id, model, status, created, format, sample_rate, audio_seconds,
-- url?, params, inputs}. params: the body as received, with each decoded data: URI replaced by
-- a summary; inputs[field] = {mime, size, hex?}: the audio it decoded to (hex up to 1 MB).
function Jobs:summaries()
  local r = {}
  for i, job in ipairs(self.list) do
    local st = self:status(job)
    local params, inputs = copy(job.body), {}
    for name, input in pairs(job.inputs) do
      params[name] = "data:" .. input.mime .. ";base64,..."
      inputs[name] = { mime = input.mime, size = input.size, hex = input.size <= MB and util.hex(input.bytes) or nil }
    end
    r[i] = {
      id = job.id, model = job.model, status = st, created = job.created, format = job.format,
      sample_rate = job.sample_rate, audio_seconds = job.audio_seconds,
      url = st == "completed" and self:audio_url(job) or nil, params = params, inputs = inputs,
    }
  end
  return r
end

return M
