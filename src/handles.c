/* handles: the easy handles an engine keeps for reuse. Owns: the handles given back, each reset
 * or, tagged, configured for the next request of its owner's kind (libcurl's own way of reusing
 * a handle), the tags, the share of TLS sessions and looked-up names, and whether libcurl has a
 * default CA bundle. Must not know: items, the multi handle, Lua, what a tag's owner configures. */
#include "handles.h"

void handles_init(handles *h) {
  h->share = curl_share_init();
  if (h->share) curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  /* The names looked up too: a share's cache has 23 slots to the multi's 71, and libcurl walks
   * them all to prune it at every request. */
  if (h->share) curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  h->default_ca_file = 0;
#if LIBCURL_VERSION_NUM >= 0x075400
  { /* what a new handle reports (libcurl 7.84 and later; an older one says nothing) */
    CURL *easy = curl_easy_init();
    char *ca = NULL;
    if (easy && curl_easy_getinfo(easy, CURLINFO_CAINFO, &ca) == CURLE_OK && ca && ca[0]) h->default_ca_file = 1;
    if (easy) curl_easy_cleanup(easy);
  }
#endif
}

unsigned long handles_new_tag(handles *h) {
  return ++h->tags;
}

CURL *handles_take(handles *h, unsigned long tag, int *warm) {
  CURL *easy;
  int same, i = -1, k;
  /* The handle of the same tag, else a reset one, else a new one while there is room to spare
   * for the handles other tags will ask for, else the one given back first. */
  for (k = h->n - 1; tag && k >= 0 && i < 0; k--)
    if (h->tag[k] == tag) i = k;
  same = i >= 0;
  for (k = h->n - 1; k >= 0 && i < 0; k--)
    if (h->tag[k] == 0) i = k;
  if (i < 0 && h->n >= HANDLES_MAX / 2) i = 0;
  if (i >= 0) {
    easy = h->easy[i];
    if (!same && h->tag[i]) curl_easy_reset(easy); /* configured for another owner */
    h->n--;
    h->easy[i] = h->easy[h->n];
    h->tag[i] = h->tag[h->n];
  } else {
    easy = curl_easy_init();
  }
  if (warm) *warm = same;
  if (easy && !same && h->share) curl_easy_setopt(easy, CURLOPT_SHARE, h->share);
  return easy;
}

void handles_give(handles *h, CURL *easy, unsigned long tag) {
  if (h->n >= HANDLES_MAX) {
    curl_easy_cleanup(easy);
    return;
  }
  if (!tag) curl_easy_reset(easy);
  h->tag[h->n] = tag;
  h->easy[h->n++] = easy;
}

void handles_close(handles *h) {
  while (h->n > 0) curl_easy_cleanup(h->easy[--h->n]);
  if (h->share) curl_share_cleanup(h->share);
  h->share = NULL;
}
