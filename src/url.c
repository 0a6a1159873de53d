/* url: the rule every URL the module fetches is held to (see url.h). Owns: parsing with
 * libcurl's URL parser, the scheme, credential and loopback checks. Must not know: Lua, the
 * engine, which request asked. */
#include "url.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "127.a.b.c" with four decimal parts of at most 255: libcurl writes IPv4 hosts this way. */
static int is_loopback_v4(const char *h) {
  int part;
  for (part = 0; part < 4; part++) {
    char *end;
    unsigned long v = strtoul(h, &end, 10);
    if (*h < '0' || *h > '9' || end - h > 3 || v > 255 || (part == 0 && v != 127)) return 0;
    if (*end != (part < 3 ? '.' : '\0')) return 0;
    h = end + 1;
  }
  return 1;
}

static int is_loopback(const char *host) {
  return strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 || is_loopback_v4(host);
}

int url_allowed(const char *url, int allow_http, const char *from, char *why) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *cred = NULL; /* cred: a user name, password or options */
  const char *no = NULL, *plain = NULL;            /* plain: the host plain http is refused to */
  if (u == NULL) no = "out of memory";
  else if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
           curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
           curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
    no = "not a valid http(s) URL";
  else if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) no = "not an http(s) URL";
  else if (curl_url_get(u, CURLUPART_USER, &cred, 0) == CURLUE_OK ||
           curl_url_get(u, CURLUPART_PASSWORD, &cred, 0) == CURLUE_OK ||
           curl_url_get(u, CURLUPART_OPTIONS, &cred, 0) == CURLUE_OK)
    no = "a URL with a user name or password ('@' before the host) is refused";
  else if (strcmp(scheme, "http") == 0 && from && strncasecmp(from, "https:", 6) == 0)
    no = "refusing a redirect from https to plain http";
  else if (strcmp(scheme, "http") == 0 && !allow_http && !is_loopback(host))
    plain = strlen(host) <= 80 ? host : "a host beyond loopback";
  /* The host whole or not at all: a cut one would keep a piece of whatever it holds (a server
   * may put the key there) from the redaction that the message goes through. */
  if (plain) snprintf(why, URL_WHY_SIZE, "refusing plain http to %s: use https, or allow_http = true", plain);
  else snprintf(why, URL_WHY_SIZE, "%s", no ? no : "");
  curl_free(scheme);
  curl_free(host);
  curl_free(cred); /* the first part found: the search stops there */
  curl_url_cleanup(u);
  return no == NULL && plain == NULL;
}

char *url_host(const char *url) {
  CURLU *u = curl_url();
  char *host = NULL;
  if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) curl_url_get(u, CURLUPART_HOST, &host, 0);
  curl_url_cleanup(u);
  return host;
}

int url_is_loopback(const char *url) {
  char *host = url_host(url);
  int yes = host && is_loopback(host);
  curl_free(host);
  return yes;
}
