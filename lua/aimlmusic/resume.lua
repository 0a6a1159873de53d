-- Finishing the journal's jobs after a crash, without submitting again: the path behind
-- client:resume. Each pending job is waited for and its audio put at its output. A file already
-- there counts as delivered only with this job's own proof: the journal's commit record of the
-- file the job linked there (its identity and size), never a size that happens to match.
-- The outputs are the journal's word, so each is checked before it is used, without opening it:
-- only a regular file (or nothing) at a path that does not climb out with `..`.

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local core = require "aimlmusic.core"
local journal = require "aimlmusic.journal"
local options = require "aimlmusic.options"
local errors = require "aimlmusic.errors"
local task = require "aimlmusic.task"

local new_error = errors.new

local M = {}

-- A refusal of a job's output, naming both.
local function refuse(job, code, why)
  return nil, new_error("io", ("job %s: output %s %s; the job stays pending"):format(job.id, job.output, why),
                        { code = code, id = job.id })
end

local function is_absolute(path)
  return path:sub(1, 1) == "/" or path:sub(1, 1) == "\\" or path:match("^%a:[/\\]") ~= nil
end

-- What is at a job's output: its facts (a regular file), false (nothing), or nil and an error
-- for a path the library would not have written. Nothing is opened.
local function check_output(job)
  local path = job.output
  if path == "" or path:find("\0", 1, true) then return refuse(job, "EINVAL", "is not a path") end
  if not is_absolute(path) then
    for part in path:gmatch("[^/\\]+") do
      if part == ".." then return refuse(job, "EINVAL", "climbs out of the directory with ..") end
    end
  end
  local info, err = core.path_info(path)
  if not info then
    if err.code == "ENOENT" then return false end
    err.id = job.id
    return nil, err
  end
  if info.type == "link" then return refuse(job, "ELOOP", "is a symbolic link, which aimlmusic never makes") end
  if info.type == "directory" then return refuse(job, "EISDIR", "is a directory") end
  if info.type ~= "file" then return refuse(job, "EINVAL", "is not a regular file (a FIFO, a device?)") end
  return info
end

-- Whether the file (info) is the one the job linked there: a commit record of this job with
-- its identity and size.
local function proven(records, info)
  if info.ino == "0" then return false end -- a system that cannot say: nothing proves it
  for _, rec in ipairs(records or {}) do
    if rec.dev == info.dev and rec.ino == info.ino and rec.bytes == info.size then return true end
  end
  return false
end

-- Puts the audio of completed job `job` (status st) at its output: {path, bytes}, or nil and
-- an error (kind io, EEXIST, for a file there that is not proven the job's).
local function deliver(client, job, st, opts, records)
  local overwrite = opts.overwrite or job.overwrite
  local info, err = check_output(job)
  if info == nil then return nil, err end
  if info and proven(records, info) then
    journal.drop_reservation(job.output, job.id) -- what the crashed process left
    return { path = job.output, bytes = info.size } -- delivered before the crash, after the link
  end
  if info and not overwrite then
    return nil, new_error("io", ("%s exists and nothing shows it is the audio of job %s (%s bytes; no record of "
      .. "this job's own file there): the job stays pending; move the file, or resume with overwrite = true"):format(
      job.output, job.id, tostring(info.size)), { code = "EEXIST", id = job.id })
  end
  local ok
  ok, err = core.output_check(job.output, overwrite)
  if not ok then return nil, err end
  if not client.reservations[job.id] then
    local r
    r, err = journal.reserve(client, job.output, job.id, overwrite)
    if not r then return nil, err end
    client.reservations[job.id] = r -- let go once the job is delivered (journal.mark_delivered)
  end
  task.work("remove_partials", job.output) -- what a download cut by the crash left beside it
  local dopts = options.only("download", opts)
  dopts.overwrite, dopts.timeout = overwrite, nil -- resume's timeout is wait's
  return client:download(st, job.output, dopts)
end

-- One result {id, st, path, err} per pending job of the client's journal (see Client:resume).
-- The caller has checked the arguments and that it may wait.
function M.all(client, opts)
  local results = {}
  local pending, evidence, jerr = journal.pending(client.journal)
  if jerr then return results, jerr end
  for _, job in ipairs(pending) do
    if not opts.id or job.id == opts.id then results[#results + 1] = M.one(client, opts, job, evidence[job.id]) end
  end
  return results
end

-- Waits for and delivers one pending job of the journal: {id, st, path, err}.
function M.one(client, opts, job, proof)
  client.outputs[job.id] = job.output or false
  local r = { id = job.id }
  local st, err, refused
  -- A refused output is said at once: waiting for the job would not make it usable.
  if job.output then
    local info
    info, err = check_output(job)
    refused = info == nil
  end
  if not refused then st, err = client:wait(job.id, options.only("wait", opts)) end
  r.st = st
  if st and job.output then
    local info
    info, err = deliver(client, job, st, opts, proof)
    if info then
      r.path = info.path
      journal.mark_delivered(client, job.id, info)
    elseif err then
      err.id = job.id
    end
  end
  r.err = err
  return r
end

return M
