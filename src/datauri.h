/* Audio given as a URL, a data: URI or a local file, for a field with transform = "data_uri":
 * the file's MIME type from its first bytes, base64 in C, and the size limit checked before
 * anything is sent. */
#ifndef AIMLMUSIC_DATAURI_H
#define AIMLMUSIC_DATAURI_H

#include <stddef.h>

#include "compat.h"
#include "hidden.h"
#include "workkind.h"

HIDDEN_BEGIN

/* True when s is an http(s) URL with a host and no space or control character. */
int datauri_is_url(const char *s, size_t n);

/* Checks the string at vidx as audio of at most max_bytes (0: no limit). With build, pushes
 * what is sent (the string itself, or the file read as data:<mime>;base64,...) and returns 1;
 * without, pushes nothing and returns 1. On a problem pushes its message and returns 0. */
int datauri_check(lua_State *L, int vidx, double max_bytes, int build);

/* core.datauri_read as work (workkind.h); datauri_open registers it and core.datauri_use. */
extern const work_kind datauri_read_kind;
void datauri_open(lua_State *L);

HIDDEN_END

#endif
