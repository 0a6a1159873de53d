-- LÖVE configuration of the aimlmusic example game (see main.lua).
-- With AIMLMUSIC_LOVE_TEST set (spec/love_spec.lua) the game runs headless: no window and no
-- graphics module, so it needs no display; audio still works with SDL_AUDIODRIVER=dummy and
-- OpenAL Soft's null backend (ALSOFT_DRIVERS=null).

-- luacheck: globals love.conf
function love.conf(t)
  t.identity = "aimlmusic-example"
  t.version = "11.4"
  t.console = false
  t.window.title = "aimlmusic: generating a track"
  t.window.width = 640
  t.window.height = 360
  t.window.vsync = 1
  -- Nothing of these is used: keep start-up short.
  t.modules.joystick = false
  t.modules.physics = false
  t.modules.touch = false
  t.modules.video = false
  if os.getenv("AIMLMUSIC_LOVE_TEST") then
    t.window = nil
    t.modules.window = false
    t.modules.graphics = false
  end
end
