/* What a transfer can tell while it runs: transfer:trace(). */
#ifndef AIMLMUSIC_TRACE_H
#define AIMLMUSIC_TRACE_H

#include "transfer.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* transfer:trace() --> {status?, redirects, host?, stalled}: facts for a log line. */
extern const luaL_Reg trace_methods[];

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
