/* Audio given as a URL, a data: URI or a local file, for a field with transform = "data_uri":
 * the file's MIME type from its first bytes, base64 in C, and the size limit checked before
 * anything is sent. */
#ifndef AIMLMUSIC_DATAURI_H
#define AIMLMUSIC_DATAURI_H

/* Its one entry, core.datauri_read, is a work kind: workkind.h declares it. */

#endif
