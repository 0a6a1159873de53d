-- LÖVE configuration of the step(0) benchmark (main.lua): headless, no window, no graphics.
-- luacheck: globals love.conf
function love.conf(t)
  t.identity = "aimlmusic-bench"
  t.version = "11.4"
  t.window = nil
  t.modules.window = false
  t.modules.graphics = false
  t.modules.joystick = false
  t.modules.physics = false
  t.modules.touch = false
  t.modules.video = false
end
