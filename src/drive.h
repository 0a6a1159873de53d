/* The engine's methods: how a host drives it. */
#ifndef AIMLMUSIC_DRIVE_H
#define AIMLMUSIC_DRIVE_H

#include "engine.h"
#include "hidden.h"

HIDDEN_BEGIN

/* Both for libcurl's write callback, which then returns CURL_WRITEFUNC_PAUSE. drive_over_budget:
 * 1 when the perform running now has spent its budget: it is paused until the next. drive_pause:
 * pauses it until a perform lets it go on, when its hold hook says so; returns 1. */
int drive_over_budget(engine_item *it);
int drive_pause(engine_item *it);

/* Runs the engine until it is done with it, sleeping in the kernel between, for a blocking
 * call with nothing else to drive. Raises as engine:perform does. */
void drive_wait(lua_State *L, engine_item *it);

/* engine:perform, :poll, :timeout, :count, :committing, :backlog, :wake_fd, :reap, :socket_mode,
 * :socket_action, :changes, :pollfd, :arm */
extern const luaL_Reg drive_methods[];

HIDDEN_END

#endif
