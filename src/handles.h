/* handles: the easy handles an engine keeps for reuse (see handles.c). */
#ifndef AIMLMUSIC_HANDLES_H
#define AIMLMUSIC_HANDLES_H

#include <curl/curl.h>

#include "hidden.h"

HIDDEN_BEGIN

#define HANDLES_MAX 32

typedef struct handles {
  CURL *easy[HANDLES_MAX]; /* kept: reset, or configured as tag says */
  unsigned long tag[HANDLES_MAX];
  int n;
  unsigned long tags;  /* the last tag handles_new_tag gave */
  CURLSH *share;       /* TLS sessions every handle shares, so a new connection resumes one */
  int default_ca_file; /* libcurl has a default CA bundle: a default CA directory only costs (session.c) */
} handles;

void handles_init(handles *h);
/* A tag no one has used. */
unsigned long handles_new_tag(handles *h);
/* A handle for a tag (0: none): the one given back with that tag first, as it is (*warm = 1:
 * only what changes from request to request needs setting), else a reset or new one (*warm =
 * 0); NULL when libcurl cannot make one. */
CURL *handles_take(handles *h, unsigned long tag, int *warm);
/* Keeps easy for reuse (reset unless tagged: its owner cleared its own pointers), or cleans it
 * up when there is no room. */
void handles_give(handles *h, CURL *easy, unsigned long tag);
/* Cleans up every handle kept and the share, after every handle that used it. */
void handles_close(handles *h);

HIDDEN_END

#endif
