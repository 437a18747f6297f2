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

/* The kernel RNG's ioctls, on a descriptor of /dev/random or /dev/urandom (read-only is enough).
 * Both return 0 or -errno. csystem_add_entropy: RNDADDENTROPY of `count` (<= 4096) bytes,
 * crediting `bits` (the kernel counts credit only before the CRNG is ready; CAP_SYS_ADMIN, else
 * -EPERM). csystem_reseed_crng: RNDRESEEDCRNG (CAP_SYS_ADMIN; -ENODATA before ready). */
int csystem_add_entropy(int fd, const void *bytes, int count, int bits);
int csystem_reseed_crng(int fd);

/* getrandom(1 byte, GRND_NONBLOCK): 1 when the CRNG is ready, 0 when not (EAGAIN), -errno. */
int csystem_crng_ready(void);

/* A CLOCK_MONOTONIC timerfd (close-on-exec, non-blocking), and arming it to fire once after
 * `nanoseconds` (at least 1). Return the descriptor / 0, or -1 / -errno. */
int csystem_timerfd_create(void);
int csystem_timerfd_arm(int fd, long long nanoseconds);

#endif
