/* What a transfer can tell while it runs: transfer:trace(). */
#ifndef AIMLMUSIC_TRACE_H
#define AIMLMUSIC_TRACE_H

#include "hidden.h"
#include "transfer.h"

HIDDEN_BEGIN

/* transfer:trace() --> {status?, redirects, host?, stalled}: facts for a log line (status and
 * host once known, finished or not; host: of the URL it talks to now, or last did). */
extern const luaL_Reg trace_methods[];

HIDDEN_END

#endif
