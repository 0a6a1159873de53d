/* The floor: N submit+status cycles in plain C over one reused libcurl easy handle (so one
 * kept-alive connection), the same requests the Lua peers send, with the transport settings
 * the module uses (the same headers, User-Agent included; request and connect timeouts; TCP
 * keep-alive; http and https only; HTTP/2 where the server offers it, by ALPN). Each answer is
 * parsed into a tree, as any client does with a JSON library (a node per value, a copy of each
 * string with its escapes resolved), and read from it: the id of the submit's answer,
 * percent-encoded into the status URL; the status "completed" and an audio_file.url of the
 * status answer. It sends the body the Lua peers encode, read once from a file, and checks
 * nothing else: no validation, no redaction, no retry policy, no guard against a second send.
 *
 *   floor BASE_URL N BODY_FILE [CA_FILE]
 *
 * With CA_FILE (an https BASE_URL), that bundle and no CA directory (so libcurl keeps its parsed
 * store), as the module does.
 *
 * Prints "cycles N cpu S wall S" (its own getrusage and monotonic clock). */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifndef BENCH_VERSION
#define BENCH_VERSION "0.2.0" /* the User-Agent the module sends: aimlmusic/VERSION */
#endif

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

/* A JSON value as a tree: objects and arrays hold their members as a list of children. */
typedef struct node {
  char type;         /* o(bject) a(rray) s(tring) n(umber) t(rue) f(alse) z (null) */
  char *key;         /* a member's name, NULL in an array */
  char *str;         /* a string's bytes, escapes resolved */
  double num;        /* a number */
  struct node *kids; /* the first member */
  struct node *next; /* the next member of the parent */
} node;

static void node_free(node *n) {
  while (n) {
    node *next = n->next;
    node_free(n->kids);
    free(n->key);
    free(n->str);
    free(n);
    n = next;
  }
}

static void skip_ws(const char **p) {
  while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') (*p)++;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* A JSON string at *p (at its opening quote), copied with its escapes resolved (\uXXXX to
 * UTF-8, surrogate pairs included), or NULL. */
static char *parse_string(const char **p) {
  const char *s = *p + 1, *e;
  char *out, *o;
  for (e = s; *e && *e != '"'; e++)
    if (*e == '\\' && e[1]) e++;
  if (*e != '"') return NULL;
  o = out = (char *)malloc((size_t)(e - s) + 1);
  if (out == NULL) return NULL;
  while (s < e) {
    unsigned long cp;
    int i, h;
    if (*s != '\\') {
      *o++ = *s++;
      continue;
    }
    s++;
    switch (*s++) {
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u':
        for (cp = 0, i = 0; i < 4; i++) {
          if ((h = hexval((unsigned char)*s++)) < 0) goto bad;
          cp = cp << 4 | (unsigned long)h;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF && s[0] == '\\' && s[1] == 'u') {
          unsigned long lo = 0;
          for (i = 0; i < 4; i++) {
            if ((h = hexval((unsigned char)s[2 + i])) < 0) goto bad;
            lo = lo << 4 | (unsigned long)h;
          }
          s += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp < 0x80) {
          *o++ = (char)cp;
        } else if (cp < 0x800) {
          *o++ = (char)(0xC0 | cp >> 6);
          *o++ = (char)(0x80 | (cp & 63));
        } else if (cp < 0x10000) {
          *o++ = (char)(0xE0 | cp >> 12);
          *o++ = (char)(0x80 | (cp >> 6 & 63));
          *o++ = (char)(0x80 | (cp & 63));
        } else {
          *o++ = (char)(0xF0 | cp >> 18);
          *o++ = (char)(0x80 | (cp >> 12 & 63));
          *o++ = (char)(0x80 | (cp >> 6 & 63));
          *o++ = (char)(0x80 | (cp & 63));
        }
        break;
      default: *o++ = s[-1]; break; /* " \\ / */
    }
  }
  *o = '\0';
  *p = e + 1;
  return out;
bad:
  free(out);
  return NULL;
}

/* The JSON value at *p, or NULL. */
static node *parse_value(const char **p, int depth) {
  node *n, **tail;
  char close;
  skip_ws(p);
  if (depth > 64) return NULL;
  n = (node *)calloc(1, sizeof *n);
  if (n == NULL) return NULL;
  switch (**p) {
    case '{':
    case '[':
      n->type = **p == '{' ? 'o' : 'a';
      close = **p == '{' ? '}' : ']';
      (*p)++;
      skip_ws(p);
      tail = &n->kids;
      if (**p == close) {
        (*p)++;
        return n;
      }
      for (;;) {
        char *key = NULL;
        node *kid;
        if (n->type == 'o') {
          skip_ws(p);
          if (**p != '"' || (key = parse_string(p)) == NULL) goto bad;
          skip_ws(p);
          if (*(*p)++ != ':') {
            free(key);
            goto bad;
          }
        }
        if ((kid = parse_value(p, depth + 1)) == NULL) {
          free(key);
          goto bad;
        }
        kid->key = key;
        *tail = kid;
        tail = &kid->next;
        skip_ws(p);
        if (**p == ',') {
          (*p)++;
          continue;
        }
        if (*(*p)++ != close) goto bad;
        return n;
      }
    case '"':
      n->type = 's';
      if ((n->str = parse_string(p)) == NULL) goto bad;
      return n;
    case 't':
    case 'f':
    case 'n': {
      const char *word = **p == 't' ? "true" : **p == 'f' ? "false" : "null";
      size_t len = strlen(word);
      if (strncmp(*p, word, len) != 0) goto bad;
      n->type = **p == 'n' ? 'z' : **p;
      *p += len;
      return n;
    }
    default: {
      char *end;
      n->type = 'n';
      n->num = strtod(*p, &end);
      if (end == *p) goto bad;
      *p = end;
      return n;
    }
  }
bad:
  node_free(n);
  return NULL;
}

static node *parse_json(const char *text) {
  const char *p = text;
  node *n = parse_value(&p, 0);
  skip_ws(&p);
  if (n && *p != '\0') {
    node_free(n);
    return NULL;
  }
  return n;
}

/* The member of object o named key, or NULL. */
static const node *member(const node *o, const char *key) {
  const node *k;
  if (o == NULL || o->type != 'o') return NULL;
  for (k = o->kids; k; k = k->next)
    if (strcmp(k->key, key) == 0) return k;
  return NULL;
}

/* The string member key of o, or NULL. */
static const char *member_string(const node *o, const char *key) {
  const node *k = member(o, key);
  return k && k->type == 's' ? k->str : NULL;
}

/* s percent-encoded into out (RFC 3986 unreserved kept). */
static int encoded_id(const char *s, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t k = 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
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
  node *doc;
  const char *status;
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
  h = curl_slist_append(h, "Authorization: Bearer 0f3c9a7e52b14d8c9e6a1b2c3d4e5f60");
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "Accept: application/json");
  h = curl_slist_append(h, "Expect:");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)&b);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "aimlmusic/" BENCH_VERSION);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 60000L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  if (argc > 4) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, argv[4]);
    curl_easy_setopt(easy, CURLOPT_CAPATH, (char *)NULL);
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
    if (code != 200 || b.p == NULL || (doc = parse_json(b.p)) == NULL) return 1;
    if (member_string(doc, "status") == NULL || member_string(doc, "id") == NULL ||
        !encoded_id(member_string(doc, "id"), id, sizeof id))
      return 1;
    node_free(doc);
    snprintf(status_url, sizeof status_url, "%s/v2/generate/audio?generation_id=%s", base, id);
    b.n = 0;
    curl_easy_setopt(easy, CURLOPT_URL, status_url);
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    if (curl_easy_perform(easy) != CURLE_OK) return 1;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200 || b.p == NULL || (doc = parse_json(b.p)) == NULL) return 1;
    status = member_string(doc, "status");
    if (status == NULL || strcmp(status, "completed") != 0 || member_string(member(doc, "audio_file"), "url") == NULL)
      return 1;
    node_free(doc);
  }
  printf("cycles %ld cpu %.6f wall %.6f\n", n, cpu() - c0, now() - w0);

  curl_easy_cleanup(easy);
  curl_slist_free_all(h);
  curl_global_cleanup();
  free(b.p);
  free(body);
  return 0;
}
