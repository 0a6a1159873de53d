/* hidden: nothing a header of the core declares leaves the shared object, whatever the
 * build's flags (LuaSocket's way; LuaRocks builds without -fvisibility=hidden): only
 * luaopen_aimlmusic_core is exported. A header puts its declarations between HIDDEN_BEGIN and
 * HIDDEN_END. Owns: that one rule. Must not know: anything else. */
#ifndef AIMLMUSIC_HIDDEN_H
#define AIMLMUSIC_HIDDEN_H

#if defined(__GNUC__)
#define HIDDEN_BEGIN _Pragma("GCC visibility push(hidden)")
#define HIDDEN_END _Pragma("GCC visibility pop")
#else
#define HIDDEN_BEGIN
#define HIDDEN_END
#endif

#endif
