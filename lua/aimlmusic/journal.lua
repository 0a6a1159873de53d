-- The job journal: one JSON object a line, appended and fsynced by the C core with one write
-- each, so that several processes or threads can share a journal without losing a record.
--   {"op":"submit","id":...,"model":...,"output":...,"overwrite":true?,"time":...}
--                                                     a paid job exists
--   {"op":"commit","id":...,"path":...,"tmp":...,"bytes":...,"dev":...,"ino":...}
--                                                     its audio is about to get its name: the
--                                                     temporary file's size and identity, written
--                                                     by the core before the link (the proof)
--   {"op":"delivered","id":...,"path":...,"bytes":...,"time":...}
--                                                     its audio is in place (written after the link)
--   {"op":"done","id":...,"time":...}                 it needs nothing more (failed, unknown, no output)
-- A line torn by a crash does not parse and is skipped; the next append starts on a new line.
-- Inside a task, every touch of the journal or of a reservation runs on a worker thread
-- (task.work): a step never waits for the disk or another process's lock.

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local core = require "aimlmusic.core"
local json = require "aimlmusic.json"
local events = require "aimlmusic.events"
local task = require "aimlmusic.task"

local work = task.work

local M = {}

local function append(path, rec)
  rec.time = os.time()
  return work("journal_append", path, json.encode(rec))
end

function M.submitted(path, job, output, overwrite)
  return append(path, { op = "submit", id = job.id, model = job.model, output = output,
                        overwrite = overwrite or nil })
end

function M.delivered(path, id, info)
  return append(path, { op = "delivered", id = id, path = info.path, bytes = info.bytes })
end

function M.done(path, id)
  return append(path, { op = "done", id = id })
end

-- The client's event for a record written (aimlmusic.events).
local function record(client, op, id)
  if client.emit then events.emit(client, "journal", "debug", { op = op, id = id, journal = client.journal }) end
end

-- The reservation of a client's job's output goes: the job is finished.
local function release(client, id)
  local r = client.reservations[id]
  if r then
    client.reservations[id] = nil
    work("reservation_release", r)
  end
end

-- A client's job needs nothing more: its output is forgotten (and its reservation let go)
-- and, when the client keeps a journal, the job is marked done there.
function M.mark_done(client, id)
  client.outputs[id] = nil
  release(client, id)
  if client.journal and M.done(client.journal, id) then record(client, "done", id) end
end

-- A client's job is delivered: its audio is in place (info {path, bytes}).
function M.mark_delivered(client, id, info)
  client.outputs[id] = nil
  if client.journal and M.delivered(client.journal, id, info) then record(client, "delivered", id) end
  release(client, id)
end

-- Each record of the journal at path that parses, in order, to fn(rec); nil, err when the
-- journal cannot be read (it is not a regular file, say: it is never waited on).
local function each(path, fn)
  local text, err = work("journal_read", path)
  if not text then return nil, err end
  for line in text:gmatch("[^\n]+") do
    local ok, rec = pcall(json.decode, line)
    if ok and type(rec) == "table" and type(rec.id) == "string" then fn(rec) end
  end
  return true
end

-- Whether the journal at path says job id is finished (delivered or done).
function M.finished(path, id)
  local finished = false
  each(path, function(rec)
    if rec.id == id and (rec.op == "done" or rec.op == "delivered") then finished = true end
  end)
  return finished
end

-- The task of this Lua state reserving an output now, by output: its reservation runs on a
-- worker, and two tasks of one state asking for one output take turns, in order.
local reserving = {}

-- Reserves output for job id (nil: a job about to be submitted) on behalf of client: see
-- core.output_reserve. A live reservation of a job the client's journal says is finished is
-- taken over: it would otherwise block the output for as long as its process lives.
function M.reserve(client, output, id, overwrite)
  local me = task.current()
  if me then
    while reserving[output] and not reserving[output]:done() do task.sleep(0.002) end
    reserving[output] = me
  end
  local r, err = work("output_reserve", output, id, overwrite)
  if not r and err.code == "EBUSY" and err.owner and client.journal and M.finished(client.journal, err.owner) then
    r, err = work("output_reserve", output, id, true)
  end
  if me then reserving[output] = nil end
  return r, err
end

-- Removes the reservation at output unless another job's live process holds it: job id is
-- delivered, and a reservation its own process (or a dead one) left there would be litter.
function M.drop_reservation(output, id)
  if not core.path_info(output .. ".lock") then return end
  local r = work("output_reserve", output, id, false)
  if r then work("reservation_release", r) end
end

--- The jobs submitted and neither delivered nor done, oldest first: {id, model, output,
-- overwrite, time}; then, by job id, the list of the evidence records ("commit") of each
-- ({bytes, dev, ino}). {}, {}, err when the journal cannot be read.
function M.pending(path)
  local order, jobs, evidence = {}, {}, {}
  local ok, err = each(path, function(rec)
    if rec.op == "submit" and not jobs[rec.id] then
      order[#order + 1] = rec.id
      jobs[rec.id] = {
        id = rec.id,
        model = type(rec.model) == "string" and rec.model or nil,
        output = type(rec.output) == "string" and rec.output or nil,
        overwrite = rec.overwrite == true or nil,
        time = type(rec.time) == "number" and rec.time or nil,
      }
    elseif rec.op == "done" or rec.op == "delivered" then
      jobs[rec.id] = false
    elseif rec.op == "commit" and type(rec.bytes) == "number" and type(rec.dev) == "string"
        and type(rec.ino) == "string" then
      local list = evidence[rec.id] or {}
      list[#list + 1] = { bytes = rec.bytes, dev = rec.dev, ino = rec.ino }
      evidence[rec.id] = list
    end
  end)
  if not ok then return {}, {}, err end
  local out = {}
  for _, id in ipairs(order) do
    if jobs[id] then out[#out + 1] = jobs[id] end
  end
  return out, evidence
end

return M
