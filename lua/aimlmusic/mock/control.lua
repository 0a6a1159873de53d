-- aimlmusic.mock.control: the control channel, /_mock/ on the API host (no auth): the HTTP
-- face of the server's own methods, for specs in other processes.
--   POST /_mock/reset    jobs, request log and faults forgotten, start configuration back
--   GET|POST /_mock/config, POST /_mock/fault, GET /_mock/faults, /_mock/requests, /_mock/jobs

local api = require("aimlmusic.mock.api")
local util = require("aimlmusic.mock.util")

local M = {}

local function decode_object(text)
  local ok, v = pcall(util.json.decode, text ~= "" and text or "{}")
  if not ok then return nil, "body is not valid JSON" end
  if type(v) ~= "table" or util.is_array(v) then return nil, "body must be a JSON object" end
  return v
end

--- True when req is for the control channel.
function M.owns(req)
  return req.path == "/_mock" or req.path:sub(1, 7) == "/_mock/"
end

-- A route whose body is a JSON object: apply(srv, obj) returns true | nil, err; then answer(srv).
local function posted(apply, answer)
  return function(srv, req)
    local obj, err = decode_object(req.body)
    local ok = false
    if obj then ok, err = apply(srv, obj) end
    if not ok then return api.error(400, err, req.path, srv.now()) end
    return answer(srv)
  end
end

local function config(srv)
  return api.json(200, srv.config)
end

local ROUTES = {
  ["POST /_mock/reset"] = function(srv)
    srv:reset()
    return api.json(200, { ok = true })
  end,
  ["GET /_mock/config"] = config,
  ["POST /_mock/config"] = posted(function(srv, obj) return srv:configure(obj) end, config),
  ["POST /_mock/fault"] = posted(function(srv, obj) return srv:add_fault(obj) end, function(srv)
    return api.json(200, { ok = true, faults = #srv.faults.list, job_errors = #srv.faults.job_errors })
  end),
  ["POST /_mock/finish"] = posted(function(srv, obj) return srv:finish(obj) end, function()
    return api.json(200, { ok = true })
  end),
  ["GET /_mock/faults"] = function(srv) return api.list(srv.faults.list) end,
  ["GET /_mock/requests"] = function(srv) return api.list(srv:requests()) end,
  ["GET /_mock/jobs"] = function(srv) return api.list(srv:jobs()) end,
}

--- The answer to a control request. srv: the mock server (reset, configure, add_fault,
-- requests, jobs, config, faults, now).
function M.handle(srv, req)
  local route = ROUTES[req.method .. " " .. req.path]
  if route then return route(srv, req) end
  return api.error(404, "Cannot " .. req.method .. " " .. req.path, req.path, srv.now())
end

return M
