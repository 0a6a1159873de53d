/* The floor: N submit+status cycles in plain C over one reused libcurl easy handle (so one
 * kept-alive connection), the same requests the Lua peers send. It builds the status URL from
 * the id in the answer but parses nothing else: no peer can do less work.
 *
 *   floor BASE_URL N BODY_FILE [CA_FILE]
 *
 * With CA_FILE (an https BASE_URL), the transport settings the module uses: that bundle and no
 * CA directory (so libcurl keeps its parsed store), HTTP/2 where the server offers it.
 *
 * Prints "cycles N cpu S wall S" (its own getrusage and monotonic clock). */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct {
  char *p;
  size_t n, cap;
} buf;

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud) {
  buf *b = (buf *)ud;
  size_t n = size * nmemb;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    char *p;
    while (cap < b->n + n + 1) cap *= 2;
    p = (char *)realloc(b->p, cap);
    if (p == NULL) return 0;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, ptr, n);
  b->n += n;
  b->p[b->n] = '\0';
  return n;
}

/* The id of {"id":"...",...}, percent-encoded into out (RFC 3986 unreserved kept). */
static int encoded_id(const char *json, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  const char *s = strstr(json, "\"id\":\"");
  size_t k = 0;
  if (s == NULL) return 0;
  for (s += 6; *s && *s != '"'; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '\\') continue; /* "\/" */
    if (k + 4 > cap) return 0;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out[k++] = (char)c;
    } else {
      out[k++] = '%';
      out[k++] = hex[c >> 4];
      out[k++] = hex[c & 15];
    }
  }
  out[k] = '\0';
  return 1;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  const char *base;
  long n, i;
  char submit_url[512], status_url[1024], id[512], *body;
  long body_len;
  FILE *f;
  struct curl_slist *h = NULL;
  buf b = {NULL, 0, 0};
  CURL *easy;
  double c0, w0;
  if (argc < 4) {
    fprintf(stderr, "usage: floor BASE_URL N BODY_FILE [CA_FILE]\n");
    return 2;
  }
  base = argv[1];
  n = atol(argv[2]);
  f = fopen(argv[3], "rb");
  if (f == NULL) {
    perror(argv[3]);
    return 2;
  }
  fseek(f, 0, SEEK_END);
  body_len = ftell(f);
  rewind(f);
  body = (char *)malloc((size_t)body_len + 1);
  if (body == NULL || fread(body, 1, (size_t)body_len, f) != (size_t)body_len) return 2;
  body[body_len] = '\0';
  fclose(f);
  snprintf(submit_url, sizeof submit_url, "%s/v2/generate/audio", base);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  easy = curl_easy_init();
  h = curl_slist_append(h, "Authorization: Bearer test-key");
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "Accept: application/json");
  h = curl_slist_append(h, "Expect:");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)&b);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  if (argc > 4) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, argv[4]);
    curl_easy_setopt(easy, CURLOPT_CAPATH, (char *)NULL);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  }

  c0 = cpu();
  w0 = now();
  for (i = 0; i < n; i++) {
    long code = 0;
    b.n = 0;
    curl_easy_setopt(easy, CURLOPT_URL, submit_url);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, body_len);
    if (curl_easy_perform(easy) != CURLE_OK) return 1;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200 || !encoded_id(b.p, id, sizeof id)) return 1;
    snprintf(status_url, sizeof status_url, "%s/v2/generate/audio?generation_id=%s", base, id);
    b.n = 0;
    curl_easy_setopt(easy, CURLOPT_URL, status_url);
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    if (curl_easy_perform(easy) != CURLE_OK) return 1;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200 || strstr(b.p, "\"completed\"") == NULL) return 1;
  }
  printf("cycles %ld cpu %.6f wall %.6f\n", n, cpu() - c0, now() - w0);

  curl_easy_cleanup(easy);
  curl_slist_free_all(h);
  curl_global_cleanup();
  free(b.p);
  free(body);
  return 0;
}
