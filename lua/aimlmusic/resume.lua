-- Finishing the journal's jobs after a crash, without submitting again: the path behind
-- client:resume. Each pending job is waited for and its audio put at its output; a file
-- already there counts as delivered only when its size is the job's.

local core = require "aimlmusic.core"
local journal = require "aimlmusic.journal"
local options = require "aimlmusic.options"

local M = {}

-- The size of the file at path, or nil when it cannot be opened.
local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local size = f:seek("end")
  f:close()
  return size
end

-- Puts the audio of completed job `job` (status st) at its output: {path, bytes}, or nil and
-- an error (kind io, EEXIST, for a file there that may not be the job's).
local function deliver(client, job, st, opts)
  local overwrite = opts.overwrite or job.overwrite
  local size = file_size(job.output)
  if not overwrite and size and st.size and st.size > 0 and size == st.size then
    return { path = job.output, bytes = size } -- delivered before the crash, after the link
  end
  local ok, err = core.output_check(job.output, overwrite)
  if ok then
    core.remove_partials(job.output) -- what a download cut by the crash left beside it
    local dopts = options.only("download", opts)
    dopts.overwrite, dopts.timeout = overwrite, nil -- resume's timeout is wait's
    return client:download(st, job.output, dopts)
  end
  if err.code == "EEXIST" then
    err.message = ("%s exists and nothing shows it is the audio of job %s (%s bytes, the job's are %s): "
      .. "the job stays pending; move the file, or resume with overwrite = true"):format(
      job.output, job.id, tostring(size), tostring(st.size or "unknown"))
  end
  return nil, err
end

-- One result {id, st, path, err} per pending job of the client's journal (see Client:resume).
-- The caller has checked the arguments and that it may wait.
function M.all(client, opts)
  local results = {}
  for _, job in ipairs(client:pending()) do
    client.outputs[job.id] = job.output or false
    local r = { id = job.id }
    local st, err = client:wait(job.id, options.only("wait", opts))
    r.st = st
    if st and job.output then
      local info
      info, err = deliver(client, job, st, opts)
      if info then
        r.path = info.path
        journal.mark_delivered(client, job.id, info)
      elseif err then
        err.id = job.id
      end
    end
    r.err = err
    results[#results + 1] = r
  end
  return results
end

return M
