/* The engine's methods: how a host drives it.
 *
 * DESIGN. drive.c owns the three ways a host runs the engine's loop: perform/poll (a plain
 * loop, or a step per frame), a pollable descriptor (pollfd and arm: the host watches one
 * descriptor), and socket mode (a host event loop such as luv watches libcurl's sockets and
 * timer). All of them end in the engine's one completion path. It must not know items beyond
 * the engine's header, nor anything of transfers. */
#ifndef AIMLMUSIC_DRIVE_H
#define AIMLMUSIC_DRIVE_H

#include "engine.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* engine:perform, :poll, :timeout, :count, :committing, :wake_fd, :reap, :socket_mode,
 * :socket_action, :changes, :pollfd, :arm */
extern const luaL_Reg drive_methods[];

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
