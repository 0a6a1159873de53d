--- Whether a failed request may be sent again: the one place that decides `err.retryable`.
-- The core reports facts on each error of a finished request: `kind`, `status`, `code`,
-- `request` (which request: "submit", "status" or "download") and `sent` (whether it can have
-- reached the server). This table turns them into policy; a submit that reached the server is
-- never repeated, since a second one would be a second paid job.
-- @module aimlmusic.retry
if jit then jit.off(true, true) end -- runs inside tasks: interpreted, as aimlmusic.task says

local M = {}

--- By kind: "always", "unless_sent_submit" (safe unless it is a submit that may have reached
-- the server), or absent (never).
M.by_kind = {
  rate_limited = "always",
  network = "unless_sent_submit",
  timeout = "unless_sent_submit",
  server = "unless_sent_submit",
}

--- libcurl codes that no retry can cure: the peer's certificate is wrong.
M.never_codes = {
  PEER_FAILED_VERIFICATION = true,
  SSL_CACERT_BADFILE = true,
  SSL_CERTPROBLEM = true,
}

--- Sets err.retryable from the facts the core put on err, and takes those facts off so the
-- error keeps its documented shape. An error without them (made in Lua) is left as it is.
-- @param err the error table
-- @return err
function M.decide(err)
  local request = err.request
  if request == nil then return err end
  local rule = M.by_kind[err.kind]
  local ok = rule == "always" or (rule == "unless_sent_submit" and (request ~= "submit" or not err.sent))
  err.retryable = ok and not M.never_codes[err.code] or false
  err.request, err.sent = nil, nil
  return err
end

return M
