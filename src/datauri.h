/* Audio given as a URL, a data: URI or a local file, for a field with transform = "data_uri":
 * the file's MIME type from its first bytes, base64 in C, and the size limit checked before
 * anything is sent. */
#ifndef AIMLMUSIC_DATAURI_H
#define AIMLMUSIC_DATAURI_H

#include "hidden.h"
#include "workkind.h"

HIDDEN_BEGIN

/* core.datauri_read as work (workkind.h). */
extern const work_kind datauri_read_kind;

HIDDEN_END

#endif
