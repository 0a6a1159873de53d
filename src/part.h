/* part: a download's temporary file beside its target (see part.c). */
#ifndef AIMLMUSIC_PART_H
#define AIMLMUSIC_PART_H

#include <stddef.h>

#include "compat.h"
#include "hidden.h"
#include "workkind.h"

HIDDEN_BEGIN

/* Opens "<target's name>.part-<random>" beside the target, so the final rename stays on one
 * file system (salt: the caller's address, to vary the name): 0 with *path (free it) and *fd
 * set, or an errno. */
int part_open(const char *target, unsigned long salt, char **path, int *fd);
/* Writes n bytes at p to fd: 0, or an errno. */
int part_write(int fd, const char *p, size_t n);

/* core.remove_partials, and the same as work (workkind.h). */
extern const luaL_Reg part_functions[];
extern const work_kind part_remove_kind;

HIDDEN_END

#endif
