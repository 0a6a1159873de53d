--- Where the Neovim plugin's tracks go: a name beside the buffer's file (or in output_dir, or
-- the cwd) that neither a file nor a job still running has taken.
-- @module aimlmusic.nvim.paths

local uv = vim.uv or vim.loop

local M = {}

--- <dir>/<stem>.<ext>, or <stem>-1.<ext>, <stem>-2.<ext> ... when taken (a file there, its
-- reservation `<path>.lock`: a job of this or an earlier session that will put its track there,
-- or a path in the set `taken`).
function M.free(dir, stem, ext, taken)
  local function exists(path) return taken[path] or uv.fs_stat(path) ~= nil or uv.fs_stat(path .. ".lock") ~= nil end
  local path = dir .. "/" .. stem .. "." .. ext
  local i = 0
  while exists(path) do
    i = i + 1
    path = ("%s/%s-%d.%s"):format(dir, stem, i, ext)
  end
  return path
end

--- Where buffer buf's track goes: output_dir (created), else beside its file, else the cwd.
function M.for_buffer(buf, ext, output_dir, taken)
  local name = vim.api.nvim_buf_get_name(buf)
  local dir, stem
  if name == "" then
    dir, stem = vim.fn.getcwd(), "aimlmusic"
  else
    local full = vim.fn.fnamemodify(name, ":p")
    dir, stem = vim.fn.fnamemodify(full, ":h"), vim.fn.fnamemodify(full, ":t:r")
    if stem == "" then stem = vim.fn.fnamemodify(full, ":t") end
  end
  if output_dir then
    dir = vim.fn.fnamemodify(vim.fn.expand(output_dir), ":p"):gsub("/$", "")
    vim.fn.mkdir(dir, "p")
  end
  return M.free(dir, stem, ext, taken)
end

return M
