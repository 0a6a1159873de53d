/* A session: what every request to the service shares. */
#ifndef AIMLMUSIC_SESSION_H
#define AIMLMUSIC_SESSION_H

#include <curl/curl.h>

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

#define SESSION_MT "aimlmusic.session"

typedef struct session {
  int refs;        /* the Lua userdata + every transfer made with it */
  const char *key; /* inside api_headers' Authorization line; NULL: none */
  char *base_url;
  char *submit_url;
  struct curl_slist *api_headers; /* Authorization, Content-Type, Accept, the user's extra headers */
  struct curl_slist *cdn_headers; /* no Authorization: the CDN is another host */
  long timeout_ms, connect_timeout_ms;
  long low_speed_limit, low_speed_time; /* a download slower than limit B/s for time s ends */
  curl_off_t max_bytes;                 /* the most a download may write */
  int allow_http;                       /* plain http to any host (url.h) */
  char *ca_file;                        /* CA bundle to verify peers with, instead of the system's */
  char *ca_path;                        /* CA directory (OpenSSL's hashed names), named by the user */
  char *proxy;                          /* explicit proxy; otherwise libcurl honours the *_proxy variables */
  unsigned long tag;                    /* the session's handle tag on its engine (handles_new_tag), 0 until asked */
  int api_loopback;                     /* base_url's host is a loopback one: its requests skip any proxy */
  int tls_verify;
  char *user_agent; /* "aimlmusic/X.Y.Z" and the user's product token, sent to every host */
} session;

/* __gc, __close and session:close(): drops the Lua object's reference; idempotent. */
int session_close(lua_State *L);
int session_tostring(lua_State *L);
/* session:submit, :status, :download, :close; core.session{...}. */
extern const luaL_Reg session_methods[], session_functions[];

HIDDEN_END

#endif
