/* platform_win32: platform.h on Windows (Vista and later), with the Win32 API. Compiled
 * everywhere; empty elsewhere.
 * Owns: the Windows side of every call platform.h lists: UTF-8 paths turned into wide strings,
 * Win32 error codes turned into errno values, files opened with CreateFileW and shared for
 * deleting (so an open file can be renamed or removed, as on POSIX) then handed to the C
 * runtime as descriptors, a loopback socket pair for waking. Must not know: Lua, libcurl, the
 * engine. */
#if defined(_WIN32)

#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0600 /* WSAPoll, InitOnceExecuteOnce, SRW locks, condition variables */
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <errno.h>
#include <io.h>
#include <process.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "platform.h"

/* ---- errors and paths ---- */

static int errno_of(DWORD e) {
  switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH: return ENOENT;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS: return EEXIST;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_WRITE_PROTECT: return EACCES;
    case ERROR_LOCK_VIOLATION: return EWOULDBLOCK;
    case ERROR_NOT_SAME_DEVICE: return EXDEV;
    case ERROR_DIRECTORY: return ENOTDIR;
    case ERROR_FILENAME_EXCED_RANGE:
    case ERROR_BUFFER_OVERFLOW: return ENAMETOOLONG;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL: return ENOSPC;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY: return ENOMEM;
    case ERROR_INVALID_NAME:
    case ERROR_INVALID_PARAMETER:
    case ERROR_NO_UNICODE_TRANSLATION: return EINVAL;
    case ERROR_INVALID_FUNCTION:
    case ERROR_NOT_SUPPORTED: return EPERM;
    case ERROR_INVALID_HANDLE: return EBADF;
    default: return EIO;
  }
}

static int fail_last(void) {
  errno = errno_of(GetLastError());
  return -1;
}

/* path (UTF-8) followed by suffix, as a malloc'd wide string, or NULL with errno set. */
static wchar_t *wide_with(const char *path, const wchar_t *suffix) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
  wchar_t *w = n > 0 ? (wchar_t *)malloc(((size_t)n + wcslen(suffix)) * sizeof *w) : NULL;
  if (w == NULL) {
    errno = n > 0 ? ENOMEM : EINVAL; /* EINVAL: not UTF-8 */
    return NULL;
  }
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, w, n);
  wcscpy(w + n - 1, suffix);
  return w;
}

static wchar_t *wide(const char *path) {
  return wide_with(path, L"");
}

static HANDLE handle_of(int fd) {
  return (HANDLE)_get_osfhandle(fd);
}

/* ---- threads ---- */

typedef struct {
  void *(*fn)(void *);
  void *arg;
} trampoline;

static unsigned __stdcall thread_main(void *p) {
  trampoline t = *(trampoline *)p;
  free(p);
  t.fn(t.arg);
  return 0;
}

int platform_thread_start(platform_thread *t, void *(*fn)(void *), void *arg) {
  trampoline *tr = (trampoline *)malloc(sizeof *tr);
  uintptr_t h;
  if (tr == NULL) return ENOMEM;
  tr->fn = fn;
  tr->arg = arg;
  h = _beginthreadex(NULL, 0, thread_main, tr, 0, NULL);
  if (h == 0) {
    int e = errno ? errno : EAGAIN;
    free(tr);
    return e;
  }
  *t = (platform_thread)h;
  return 0;
}

void platform_thread_join(platform_thread t) {
  WaitForSingleObject((HANDLE)t, INFINITE);
  CloseHandle((HANDLE)t);
}

/* param is &fn: ISO C turns no function pointer into a void *, but the address of one, yes. */
static BOOL CALLBACK once_main(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  (void)once;
  (void)ctx;
  (*(void (**)(void))param)();
  return TRUE;
}

void platform_once_run(platform_once *once, void (*fn)(void)) {
  /* platform_once is laid out as INIT_ONCE: one pointer, zero before the first run. */
  InitOnceExecuteOnce((PINIT_ONCE)(void *)once, once_main, (PVOID)&fn, NULL);
}

/* An SRWLOCK and a CONDITION_VARIABLE (Vista) in place (platform.h): nothing to allocate or free. */
int platform_mutex_init(platform_mutex *m) {
  InitializeSRWLock((PSRWLOCK)(void *)m);
  return 0;
}

void platform_mutex_destroy(platform_mutex *m) {
  (void)m;
}

PLATFORM_NO_LOCK_ANALYSIS void platform_mutex_lock(platform_mutex *m) {
  AcquireSRWLockExclusive((PSRWLOCK)(void *)m);
}

PLATFORM_NO_LOCK_ANALYSIS void platform_mutex_unlock(platform_mutex *m) {
  ReleaseSRWLockExclusive((PSRWLOCK)(void *)m);
}

int platform_cond_init(platform_cond *c) {
  InitializeConditionVariable((PCONDITION_VARIABLE)(void *)c);
  return 0;
}

void platform_cond_destroy(platform_cond *c) {
  (void)c;
}

void platform_cond_wait(platform_cond *c, platform_mutex *m) {
  SleepConditionVariableSRW((PCONDITION_VARIABLE)(void *)c, (PSRWLOCK)(void *)m, INFINITE, 0);
}

void platform_cond_signal(platform_cond *c) {
  WakeConditionVariable((PCONDITION_VARIABLE)(void *)c);
}

void platform_cond_broadcast(platform_cond *c) {
  WakeAllConditionVariable((PCONDITION_VARIABLE)(void *)c);
}

/* ---- the wake pair: a connected loopback TCP pair, as only sockets can be polled ---- */

int platform_wake_open(platform_sock pair[2]) {
  WSADATA wsa;
  SOCKET l = INVALID_SOCKET, c = INVALID_SOCKET, a = INVALID_SOCKET;
  struct sockaddr_in addr = {0}, mine, peer;
  int len = sizeof addr, one = 1;
  u_long nb = 1;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    errno = EIO;
    return -1;
  }
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* port 0: any free one */
  l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (l == INVALID_SOCKET || bind(l, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(l, 1) != 0 ||
      getsockname(l, (struct sockaddr *)&addr, &len) != 0)
    goto fail;
  c = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (c == INVALID_SOCKET || connect(c, (struct sockaddr *)&addr, sizeof addr) != 0) goto fail;
  len = sizeof peer;
  a = accept(l, (struct sockaddr *)&peer, &len);
  if (a == INVALID_SOCKET) goto fail;
  /* Another local process could have connected first: the accepted peer must be our end. */
  len = sizeof mine;
  if (getsockname(c, (struct sockaddr *)&mine, &len) != 0 || mine.sin_port != peer.sin_port ||
      mine.sin_addr.s_addr != peer.sin_addr.s_addr)
    goto fail;
  closesocket(l);
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
  ioctlsocket(a, FIONBIO, &nb);
  ioctlsocket(c, FIONBIO, &nb);
  SetHandleInformation((HANDLE)a, HANDLE_FLAG_INHERIT, 0);
  SetHandleInformation((HANDLE)c, HANDLE_FLAG_INHERIT, 0);
  pair[0] = (platform_sock)a;
  pair[1] = (platform_sock)c;
  return 0;
fail:
  if (a != INVALID_SOCKET) closesocket(a);
  if (c != INVALID_SOCKET) closesocket(c);
  if (l != INVALID_SOCKET) closesocket(l);
  WSACleanup();
  errno = EIO;
  return -1;
}

void platform_wake_signal(platform_sock w) {
  send((SOCKET)w, "", 1, 0);
}

void platform_wake_drain(platform_sock r) {
  char buf[64];
  while (recv((SOCKET)r, buf, sizeof buf, 0) > 0) {
  }
}

void platform_wake_close(platform_sock pair[2]) {
  if (pair[0] == PLATFORM_SOCK_NONE) return; /* platform_wake_open fills both ends or neither */
  closesocket((SOCKET)pair[0]);
  closesocket((SOCKET)pair[1]);
  pair[0] = pair[1] = PLATFORM_SOCK_NONE;
  WSACleanup(); /* the one platform_wake_open's WSAStartup asked for */
}

int platform_wait_readable(platform_sock s, int ms) {
  WSAPOLLFD p = {0};
  p.fd = (SOCKET)s;
  p.events = POLLRDNORM;
  return WSAPoll(&p, 1, ms < 0 ? -1 : ms) < 0 ? -1 : (p.revents != 0);
}

/* ---- files ---- */

int platform_open(const char *path, int flags, int mode) {
  DWORD access, disposition;
  HANDLE h;
  wchar_t *w;
  int fd, acc = flags & (O_RDONLY | O_WRONLY | O_RDWR);
  (void)mode;
  if (acc == O_WRONLY) access = GENERIC_WRITE;
  else if (acc == O_RDWR) access = GENERIC_READ | GENERIC_WRITE;
  else access = GENERIC_READ;
  disposition = flags & O_CREAT ? CREATE_NEW : OPEN_EXISTING; /* O_CREAT comes with O_EXCL */
  w = wide(path);
  if (w == NULL) return -1;
  /* Not inherited (no SECURITY_ATTRIBUTES); shared for deleting (platform.h says why). */
  h = CreateFileW(w, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, disposition,
                  FILE_ATTRIBUTE_NORMAL, NULL);
  free(w);
  if (h == INVALID_HANDLE_VALUE) return fail_last();
  fd = _open_osfhandle((intptr_t)h, flags & O_APPEND ? _O_APPEND : 0); /* binary: no _O_TEXT */
  if (fd < 0) {
    CloseHandle(h);
    errno = EMFILE;
  }
  return fd;
}

int platform_fsync(int fd) {
  return FlushFileBuffers(handle_of(fd)) ? 0 : fail_last();
}

int platform_sync_parent(const char *path) {
  /* NTFS journals names; platform_rename and the move in platform_link_noreplace write
   * through. There is no directory handle to flush without backup privileges. */
  (void)path;
  return 0;
}

int platform_rename(const char *from, const char *to) {
  wchar_t *wf = wide(from), *wt = wf ? wide(to) : NULL;
  int rc = -1;
  if (wt != NULL) rc = MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) ? 0 : fail_last();
  free(wf);
  free(wt);
  return rc;
}

int platform_link_noreplace(const char *from, const char *to) {
  wchar_t *wf = wide(from), *wt = wf ? wide(to) : NULL;
  int rc = wt ? 0 : -1;
  /* Neither call replaces an existing file: both fail with ERROR_ALREADY_EXISTS. The move is
   * for file systems with no hard links (FAT, exFAT). */
  if (wt != NULL && !CreateHardLinkW(wt, wf, NULL) &&
      (errno_of(GetLastError()) == EEXIST || !MoveFileExW(wf, wt, MOVEFILE_WRITE_THROUGH)))
    rc = fail_last();
  free(wf);
  free(wt);
  return rc;
}

int platform_unlink(const char *path) {
  static volatile LONG serial;
  wchar_t tag[40], *w = wide(path), *aside;
  int rc;
  if (w == NULL) return -1;
  /* A file another handle holds open stays at its name, delete-pending, until the last handle
   * closes, and its name can be made again only then. Moved aside first, its name is free at
   * once, as POSIX's unlink leaves it; the moved file goes when its last handle closes. */
  swprintf(tag, 40, L".deleted-%lu-%ld", (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&serial));
  aside = wide_with(path, tag);
  if (aside != NULL && MoveFileExW(w, aside, 0)) {
    rc = DeleteFileW(aside) ? 0 : fail_last();
    if (rc != 0) MoveFileExW(aside, w, 0); /* not to be deleted (read-only, say): back at its name */
  } else {
    rc = DeleteFileW(w) ? 0 : fail_last();
  }
  free(aside);
  free(w);
  return rc;
}

long platform_pread(int fd, void *buf, size_t n, long long off) {
  OVERLAPPED ov = {0};
  DWORD got = 0;
  ov.Offset = (DWORD)((unsigned long long)off & 0xffffffffu);
  ov.OffsetHigh = (DWORD)((unsigned long long)off >> 32);
  if (!ReadFile(handle_of(fd), buf, (DWORD)n, &got, &ov)) {
    if (GetLastError() == ERROR_HANDLE_EOF) return 0;
    return fail_last();
  }
  return (long)got;
}

int platform_write(int fd, const void *buf, size_t n) {
  const char *p = (const char *)buf;
  DWORD done;
  /* WriteFile itself: wine's msvcrt turns a short write on a full disk into EINVAL. */
  for (; n > 0; p += done, n -= done) {
    if (!WriteFile(handle_of(fd), p, (DWORD)(n > 0x40000000u ? 0x40000000u : n), &done, NULL)) return fail_last();
    if (done == 0) {
      errno = ENOSPC;
      return -1;
    }
  }
  return 0;
}

/* Windows' byte-range locks are mandatory: a lock over the content would fail every other
 * handle's reads and writes of it (a reservation's owner, a journal being read). One byte far
 * past any content is locked instead, which only other locks see, as flock's lock is. */
#define LOCK_OFFSET_HIGH 0x7fffffffu

int platform_lock(int fd, int wait) {
  OVERLAPPED ov = {0};
  ov.OffsetHigh = LOCK_OFFSET_HIGH;
  if (LockFileEx(handle_of(fd), LOCKFILE_EXCLUSIVE_LOCK | (wait ? 0 : LOCKFILE_FAIL_IMMEDIATELY), 0, 1, 0, &ov))
    return 0;
  return fail_last();
}

int platform_unlock(int fd) {
  OVERLAPPED ov = {0};
  ov.OffsetHigh = LOCK_OFFSET_HIGH;
  return UnlockFileEx(handle_of(fd), 0, 1, 0, &ov) ? 0 : fail_last();
}

static void fill_info(DWORD attrs, DWORD hi, DWORD lo, int follow, platform_info *out) {
  int link = !follow && (attrs & FILE_ATTRIBUTE_REPARSE_POINT);
  out->is_dir = !link && (attrs & FILE_ATTRIBUTE_DIRECTORY) != 0;
  out->is_reg = !link && !(attrs & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_DEVICE));
  out->is_link = link != 0;
  out->size = (long long)(((unsigned long long)hi << 32) | lo);
  out->dev = out->ino = 0;
}

static void fill_identity(const BY_HANDLE_FILE_INFORMATION *i, platform_info *out) {
  out->dev = (unsigned long long)i->dwVolumeSerialNumber;
  out->ino = ((unsigned long long)i->nFileIndexHigh << 32) | i->nFileIndexLow;
}

int platform_stat(const char *path, int follow, platform_info *out) {
  WIN32_FILE_ATTRIBUTE_DATA d;
  BY_HANDLE_FILE_INFORMATION i;
  wchar_t *w = wide(path);
  HANDLE h = INVALID_HANDLE_VALUE;
  int rc = w == NULL ? -1 : GetFileAttributesExW(w, GetFileExInfoStandard, &d) ? 0
                                                                               : fail_last();
  /* The identity, from a handle opened with no access at all: nothing is read or written. */
  if (rc == 0)
    h = CreateFileW(w, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                    FILE_FLAG_BACKUP_SEMANTICS | (follow ? 0 : FILE_FLAG_OPEN_REPARSE_POINT), NULL);
  free(w);
  if (rc == 0) fill_info(d.dwFileAttributes, d.nFileSizeHigh, d.nFileSizeLow, follow, out);
  if (h != INVALID_HANDLE_VALUE) {
    if (GetFileInformationByHandle(h, &i)) fill_identity(&i, out);
    CloseHandle(h);
  }
  return rc;
}

int platform_fstat(int fd, platform_info *out) {
  BY_HANDLE_FILE_INFORMATION i;
  if (!GetFileInformationByHandle(handle_of(fd), &i)) return fail_last();
  fill_info(i.dwFileAttributes, i.nFileSizeHigh, i.nFileSizeLow, 1, out);
  fill_identity(&i, out);
  return 0;
}

int platform_truncate(int fd) {
  return _chsize_s(fd, 0) != 0 || _lseeki64(fd, 0, SEEK_SET) < 0 ? -1 : 0;
}

char *platform_cwd(void) {
  wchar_t *w = _wgetcwd(NULL, 0); /* malloc'd, or NULL with errno set */
  int m = w ? WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL) : 0;
  char *out = m > 0 ? (char *)malloc((size_t)m) : NULL;
  if (out != NULL) WideCharToMultiByte(CP_UTF8, 0, w, -1, out, m, NULL, NULL);
  else if (w != NULL) errno = m > 0 ? ENOMEM : EINVAL;
  free(w);
  return out;
}

int platform_dir_writable(const char *dir) {
  /* Windows decides by ACL at creation time; the read-only attribute means nothing on a
   * directory. The directory (its caller has seen it is one) is taken as writable: the create
   * will say if not. */
  (void)dir;
  return 0;
}

int platform_mkdir(const char *path) {
  wchar_t *w = wide(path);
  BOOL ok;
  if (w == NULL) return -1;
  ok = CreateDirectoryW(w, NULL);
  free(w);
  return ok ? 0 : fail_last();
}

struct platform_dir {
  HANDLE find;
  int started; /* 0 while the entry FindFirstFileW returned is not read yet */
  WIN32_FIND_DATAW data;
  char name[MAX_PATH * 3 + 1];
};

platform_dir *platform_opendir(const char *path) {
  wchar_t *w = wide_with(path, L"\\*");
  platform_dir *d = w ? (platform_dir *)calloc(1, sizeof *d) : NULL;
  if (d == NULL && w != NULL) errno = ENOMEM;
  if (d != NULL && (d->find = FindFirstFileW(w, &d->data)) == INVALID_HANDLE_VALUE) {
    fail_last();
    free(d);
    d = NULL;
  }
  free(w);
  return d;
}

const char *platform_readdir(platform_dir *d) {
  for (;;) {
    if (d->started && !FindNextFileW(d->find, &d->data)) return NULL;
    d->started = 1;
    /* A name that does not fit (or is not valid UTF-16) is skipped: no such file is ours. */
    if (WideCharToMultiByte(CP_UTF8, 0, d->data.cFileName, -1, d->name, (int)sizeof d->name, NULL, NULL) > 0)
      return d->name;
  }
}

void platform_closedir(platform_dir *d) {
  if (d == NULL) return;
  FindClose(d->find);
  free(d);
}

/* ---- the process ---- */

const char *platform_strerror(int err, char *buf, size_t size) {
  if (strerror_s(buf, size, err) != 0) snprintf(buf, size, "error %d", err);
  return buf;
}

void platform_stdio_lf(void) {
  fflush(stdout);
  fflush(stderr);
  _setmode(1, _O_BINARY);
  _setmode(2, _O_BINARY);
}

int platform_isatty(int fd) {
  return fd >= 0 && _isatty(fd) != 0;
}

/* Console events are process-wide: this counter is the one piece of state that is too. */
static volatile LONG sigint_seen = 0;

static BOOL WINAPI on_ctrl(DWORD type) {
  if (type != CTRL_C_EVENT && type != CTRL_BREAK_EVENT) return FALSE;
  if (sigint_seen < 1000) InterlockedIncrement(&sigint_seen);
  return TRUE;
}

int platform_sigint_catch(void) {
  if (!SetConsoleCtrlHandler(on_ctrl, TRUE)) return fail_last();
  InterlockedExchange(&sigint_seen, 0);
  return 0;
}

int platform_sigint_count(void) {
  return (int)sigint_seen;
}

double platform_now(void) {
  LARGE_INTEGER f, c;
  QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&c);
  return (double)c.QuadPart / (double)f.QuadPart;
}

unsigned long platform_pid(void) {
  return (unsigned long)GetCurrentProcessId();
}

#else
/* ISO C wants something in every translation unit. */
typedef int platform_win32_unused;
#endif
