/* CSystemShims: the few Linux calls Swift's Glibc module does not offer (it is built without
 * _GNU_SOURCE), and the one thing that must run between fork() and exec(). Nothing else lives
 * in this module. */
#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H

#include <sys/types.h>

/* pipe2(2): both ends created with `flags` (O_CLOEXEC, O_NONBLOCK) atomically. */
int csystem_pipe2(int fds[2], int flags);

/* Until swift-service-lifecycle takes over the signals, SIGTERM and SIGINT only set a flag:
 * a stop asked for during start-up is seen (csystem_stop_requested) instead of killing the
 * process half-way. SIGHUP and SIGUSR1 are ignored until then. */
void csystem_trap_stop_signals(void);
int csystem_stop_requested(void);

/* mkostemp(3): a new file from `template` (ending in XXXXXX, replaced in place), mode 0600,
 * opened with `flags` (O_CLOEXEC). */
int csystem_mkostemp(char *template_, int flags);

/* Starts `path` with `argv` (NULL-terminated; the environment is this process's) as a supervised
 * child, returning its PID, or -1 with *error set to the errno of the failed step (fork, or the
 * child's exec).
 *
 * In the child, before exec: every signal back to its default action and unblocked (the
 * parent ignores SIGPIPE and blocks others); a process group of its own (a Ctrl-C on the
 * terminal reaches the parent, which stops the child in order); PR_SET_PDEATHSIG(SIGKILL), so
 * the child dies when the spawning thread's process dies, even by SIGKILL (the spawning thread
 * must live as long as the child is wanted); stdin on /dev/null; stdout and stderr on `output`;
 * every other descriptor closed. posix_spawn cannot set the parent-death signal, hence fork. */
pid_t csystem_spawn_supervised(const char *path, char *const argv[], int output, int *error);

/* ioctl(fd, RNDADDENTROPY, struct rand_pool_info { entropy_count = bits, buf_size = len, buf })
 * on an fd of /dev/random or /dev/urandom: mixes `len` bytes into the input pool and credits
 * `bits` (counted by the kernel only before the CRNG is ready). Needs CAP_SYS_ADMIN.
 * Returns 0, or -errno (EPERM without the capability). len 0 with bits 0 changes nothing: the
 * probe for the capability. */
int csystem_add_entropy(int fd, const void *buf, int len, int bits);

/* ioctl(fd, RNDRESEEDCRNG): reseeds the CRNG from the input pool now. Returns 0, or -errno
 * (ENODATA before the CRNG is ready, EPERM without CAP_SYS_ADMIN). */
int csystem_reseed_crng(int fd);

/* getrandom(2) with `flags` (GRND_NONBLOCK = 1): the number of bytes written, or -errno
 * (-EAGAIN with GRND_NONBLOCK while the CRNG is not ready). */
long csystem_getrandom(void *buf, unsigned long len, unsigned int flags);

/* A CLOCK_MONOTONIC timerfd (close-on-exec, non-blocking), and arming it to fire once after
 * `nanoseconds` (at least 1). Return the descriptor / 0, or -1 / -errno. */
int csystem_timerfd_create(void);
int csystem_timerfd_arm(int fd, long long nanoseconds);

/* openlog(3) with LOG_PID under `ident` (kept: syslog keeps the pointer) and syslog(3) of one
 * message at `priority` (LOG_INFO | LOG_DAEMON ...), passed as "%s" so it is never a format.
 * syslog is variadic, hence the wrapper. */
void csystem_openlog(const char *ident, int facility);
void csystem_syslog(int priority, const char *message);

#endif
