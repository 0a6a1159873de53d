-- The job journal: one JSON object a line, appended and fsynced by the C core with one write
-- each, so that several processes or threads can share a journal without losing a record.
--   {"op":"submit","id":...,"model":...,"output":...,"overwrite":true?,"time":...}
--                                                     a paid job exists
--   {"op":"delivered","id":...,"path":...,"bytes":...,"time":...}
--                                                     its audio is in place (written after the link)
--   {"op":"done","id":...,"time":...}                 it needs nothing more (failed, unknown, no output)
-- A line torn by a crash does not parse and is skipped; the next append starts on a new line.

if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local core = require "aimlmusic.core"
local json = require "aimlmusic.json"
local events = require "aimlmusic.events"

local M = {}

local function append(path, rec)
  rec.time = os.time()
  return core.journal_append(path, json.encode(rec))
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

-- A client's job needs nothing more: its output is forgotten and, when the client keeps a
-- journal, the job is marked done there.
function M.mark_done(client, id)
  client.outputs[id] = nil
  if client.journal and M.done(client.journal, id) then record(client, "done", id) end
end

-- A client's job is delivered: its audio is in place (info {path, bytes}).
function M.mark_delivered(client, id, info)
  client.outputs[id] = nil
  if client.journal and M.delivered(client.journal, id, info) then record(client, "delivered", id) end
end

--- The jobs submitted and neither delivered nor done, oldest first: {id, model, output,
-- overwrite, time}.
function M.pending(path)
  local f = io.open(path, "rb")
  if not f then return {} end
  local order, jobs = {}, {}
  for line in f:lines() do
    local ok, rec = pcall(json.decode, line)
    if ok and type(rec) == "table" and type(rec.id) == "string" then
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
      end
    end
  end
  f:close()
  local out = {}
  for _, id in ipairs(order) do
    if jobs[id] then out[#out + 1] = jobs[id] end
  end
  return out
end

return M
