/* part: a download's temporary file beside its target (see part.c). */
#ifndef AIMLMUSIC_PART_H
#define AIMLMUSIC_PART_H

#include "hidden.h"

HIDDEN_BEGIN

/* Opens a new temporary file beside target (salt: the caller's address, to vary the name): 0
 * with *path (free it) and *fd set, or an errno. */
int part_open(const char *target, unsigned long salt, char **path, int *fd);

/* Where a finished download goes, and the journal (NULL: none) that gets job id's evidence
 * (the file's size and identity) before it gets there. */
typedef struct {
  const char *target, *journal, *id;
  int overwrite;
} part_dest;
/* Moves the temporary file (*fd open on *tmp) to m->target: fsync, evidence, then link with no
 * overwrite (EEXIST) or rename. Closes *fd (-1); *tmp freed and NULL once in place. 0, or the
 * errno of the step that failed (*moving: the move, not the sync). Blocks: a worker's job. */
int part_move(const part_dest *m, int *fd, char **tmp, int *moving);

HIDDEN_END

#endif
