/* The rule every URL the module fetches is held to, parsed with libcurl's own URL parser so
 * that the host checked is the host connected to: http(s) only, no user name or password, and
 * plain http only to a loopback host (unless allowed). A redirect is held to the same rule and
 * may never leave https for http. */
#ifndef AIMLMUSIC_URL_H
#define AIMLMUSIC_URL_H

#include <stddef.h>

#include "hidden.h"

HIDDEN_BEGIN

#define URL_WHY_SIZE 160

/* 1 when url may be fetched; otherwise 0 with the reason in why (URL_WHY_SIZE bytes).
 * from: the URL that redirected here (NULL for a first request). */
int url_allowed(const char *url, int allow_http, const char *from, char *why);
/* 1 when url's host is a loopback host (localhost, 127.x.x.x, [::1]), which a proxy cannot
 * reach for us: its loopback is its own. */
int url_is_loopback(const char *url);
/* The host of url as libcurl's parser reads it (free it with curl_free), or NULL. */
char *url_host(const char *url);

HIDDEN_END

#endif
