/* workkind: file work described once, run here (outside a task: the caller waits, as the API says)
 * or on the engine's pool (core.work, inside a task: the task awaits it), so the thread that steps
 * the engine never waits for the disk or another process's lock. The file that owns some file
 * work describes it as a work_kind; work.c registers core[name], which runs it here, and starts
 * the same kinds on the workers. A contract with no code of its own: any layer may include it. */
#ifndef AIMLMUSIC_WORKKIND_H
#define AIMLMUSIC_WORKKIND_H

#include <stddef.h>

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

/* What a work's state still holds when the work goes, let go by work.c on the stepping thread:
 * fd closed (-1: none; set before prepare), path and buf freed. Every state opens with it. Run
 * closes itself what it need not hand over, so that a step touches no file. */
typedef struct {
  int fd;
  char *path, *buf;
} work_held;

typedef struct work_kind {
  const char *name; /* core.work(name, ...) starts it; core[name](...) runs it here */
  int nargs;        /* the arguments it takes, at most */
  size_t size;      /* of the state p (zero-filled, opening with a work_held) */
  /* Stepping thread: reads the arguments from index first on into p, raising on misuse. p may
   * borrow their strings: they live as long as the work. Returns -1 when run must follow, or
   * the number of results it pushed (an answer needing no file system). */
  int (*prepare)(lua_State *L, int first, void *p);
  void (*run)(void *p);               /* any thread, without Lua */
  int (*push)(lua_State *L, void *p); /* stepping thread: the results of run; NULL: none */
} work_kind;

/* Every kind, each defined by the file that owns its work; work.c registers them all. */
extern const work_kind journal_append_kind, journal_read_kind, output_reserve_kind, reservation_own_kind,
    reservation_release_kind, datauri_read_kind, part_remove_kind, commit_discard_kind;

HIDDEN_END

#endif
