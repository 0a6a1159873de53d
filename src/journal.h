/* Durable appends for the job journal: a submitted job is on disk before submit returns. */
#ifndef AIMLMUSIC_JOURNAL_H
#define AIMLMUSIC_JOURNAL_H

#include <stddef.h>

#include "hidden.h"

HIDDEN_BEGIN

/* Appends line (n bytes, no newline in it) and a newline as one record, under the journal's
 * lock, and fsyncs it: 0, or -1 with errno set. Needs no Lua state: a worker thread may call it. */
int journal_append(const char *path, const char *line, size_t n);

HIDDEN_END

#endif
