/* What a finished request's answer says, as facts for lua/aimlmusic/response.lua (see response.c). */
#ifndef AIMLMUSIC_RESPONSE_H
#define AIMLMUSIC_RESPONSE_H

#include <curl/curl.h>
#include <stddef.h>

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

typedef enum { RESPONSE_SUBMIT,
               RESPONSE_STATUS,
               RESPONSE_DOWNLOAD } response_request;

typedef struct {
  response_request request;
  int cancelled;            /* stopped by its owner */
  const char *refused;      /* a redirect the URL rule refused: why; else NULL */
  CURLcode code;            /* libcurl's result */
  const char *curl_message; /* libcurl's own words on code, or NULL */
  long status;              /* the HTTP status (when code is CURLE_OK) */
  const char *body;         /* the response body (an error page's start, for a download) */
  size_t body_len;
  const char *url;       /* the URL asked, to tell the API's 404 from another (NULL: none) */
  long long retry_after; /* seconds, from Retry-After (0: none) */
  const char *key;       /* redacted from everything shown */
  /* Why a write stopped (CURLE_WRITE_ERROR), and what the file is. */
  int io_errno;
  const char *path;
  const char *target; /* where the download goes */
  int create_failed;  /* io_errno is the temporary file's creation's */
  int oversize;       /* past max_bytes (1) or past expected (2) */
  int body_overflow;
  int stalled;     /* a download that received nothing for too long */
  int expired;     /* a download that passed its overall deadline */
  int no_location; /* a download answered with a redirect that has no Location */
  long long max_bytes, expected;
  /* Sends of the request libcurl counted (-1: not counted; then libcurl's code says whether
   * it was sent), and whether a second send was refused (a connection ended unanswered). */
  int sends;
  int resend_refused;
} response_facts;

/* Pushes true and the job (submit) or status table (status) of a 2xx API answer, or false and
 * the facts table of anything else (for lua/aimlmusic/response.lua), and returns 2; a download
 * answered 2xx: nothing, 0 (the file is the caller's). map: the stack index of the model's
 * response mapping, flat (response.flat), or 0. */
int response_push(lua_State *L, const response_facts *f, int map);

/* core.answer(kind, status, body[, map[, key]]): the same from given pieces, for the fuzzer. */
extern const luaL_Reg response_functions[];

HIDDEN_END

#endif
