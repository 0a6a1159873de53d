/* make tsan: several Lua states, one per thread, each loading the module at the same moment
 * and going through submit, wait, download (with its commit worker), cancel and close (the
 * garbage collector) against the mock server, under ThreadSanitizer. The Lua side is
 * tools/tsan.lua; the main state starts the mock and stays alive until the threads end.
 * usage: tsan SCRIPT [THREADS] */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 16

typedef struct {
  const char *script;
  char api_url[128];
  char key[128];
  int index;
  pthread_barrier_t *start;
  int ok;
} worker;

/* Runs SCRIPT(mode, ...) in L; pushes what it returns (nresults), or reports and returns 0. */
static int run(lua_State *L, const char *script, const char *mode, const worker *w, int nresults) {
  int nargs = 1;
  if (luaL_loadfile(L, script) != LUA_OK) goto fail;
  lua_pushstring(L, mode);
  if (w) {
    lua_pushstring(L, w->api_url);
    lua_pushstring(L, w->key);
    lua_pushinteger(L, w->index);
    nargs += 3;
  }
  if (lua_pcall(L, nargs, nresults, 0) != LUA_OK) goto fail;
  return 1;
fail:
  fprintf(stderr, "tsan %s: %s\n", mode, lua_tostring(L, -1));
  return 0;
}

static void *worker_main(void *arg) {
  worker *w = (worker *)arg;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  pthread_barrier_wait(w->start); /* every thread loads the module at once */
  w->ok = run(L, w->script, "worker", w, 0);
  lua_close(L); /* collects what the script left in flight */
  return NULL;
}

int main(int argc, char **argv) {
  static worker workers[MAX_THREADS];
  pthread_t threads[MAX_THREADS];
  pthread_barrier_t start;
  lua_State *L;
  int n = argc > 2 ? atoi(argv[2]) : 4, i, failed = 0;
  if (argc < 2 || n < 1 || n > MAX_THREADS) {
    fprintf(stderr, "usage: tsan SCRIPT [THREADS 1-%d]\n", MAX_THREADS);
    return 2;
  }
  L = luaL_newstate();
  luaL_openlibs(L);
  if (!run(L, argv[1], "setup", NULL, 2)) return 1;
  pthread_barrier_init(&start, NULL, (unsigned)n);
  for (i = 0; i < n; i++) {
    workers[i].script = argv[1];
    snprintf(workers[i].api_url, sizeof workers[i].api_url, "%s", lua_tostring(L, -2));
    snprintf(workers[i].key, sizeof workers[i].key, "%s", lua_tostring(L, -1));
    workers[i].index = i + 1;
    workers[i].start = &start;
    if (pthread_create(&threads[i], NULL, worker_main, &workers[i]) != 0) return 1;
  }
  for (i = 0; i < n; i++) {
    pthread_join(threads[i], NULL);
    if (!workers[i].ok) failed++;
  }
  pthread_barrier_destroy(&start);
  lua_close(L); /* the mock exits when its stdin closes */
  printf("tsan: %d threads, %d failed\n", n, failed);
  return failed ? 1 : 0;
}
