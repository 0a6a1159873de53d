/* Preloaded by `make asan` and `make valgrind`: C modules stay mapped when lua_close unloads
 * them, so the global state of libcurl, luv or LuaSocket stays reachable and only real leaks
 * are reported (an unloaded module turns every pointer it kept into a false "leak"). */
int dlclose(void *handle);

int dlclose(void *handle) {
  (void)handle;
  return 0;
}
