/* A session holds what every request to the service shares: the base URL, the key (kept in C
 * memory only, never handed back to Lua), prebuilt header lists and timeouts. Its methods build
 * and start the three requests of the API: submit, status and download. */
#ifndef AIMLMUSIC_REQUEST_H
#define AIMLMUSIC_REQUEST_H

#include <curl/curl.h>

#include "compat.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

#define SESSION_MT "aimlmusic.session"

typedef struct session {
  int refs; /* the Lua userdata + every transfer made with it */
  char *key;
  char *base_url;
  char *submit_url;
  struct curl_slist *api_headers; /* Authorization, Content-Type, Accept */
  struct curl_slist *cdn_headers; /* no Authorization: the CDN is another host */
  long timeout_ms, connect_timeout_ms;
  long low_speed_limit, low_speed_time; /* a download slower than limit B/s for time s ends */
  curl_off_t max_bytes;                  /* the most a download may write */
  int allow_http;                        /* plain http to any host (url.h) */
  char *ca_file; /* CA bundle to verify peers with, instead of the system's */
  char *proxy;   /* explicit proxy; otherwise libcurl honours the *_proxy variables */
  int tls_verify;
} session;

void session_release(session *s);
/* Copies s with every occurrence of the session's key replaced, for text shown to users. */
void session_push_redacted(lua_State *L, const session *s, const char *text, size_t n);
/* Replaces the key in the value at idx, in place: a string, or every string key and value of a
 * table at any depth. Everything decoded from a server passes here before anyone sees it. */
void session_redact_value(lua_State *L, const session *s, int idx);

void request_open(lua_State *L);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
