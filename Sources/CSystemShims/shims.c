#define _GNU_SOURCE
#include "CSystemShims.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/random.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int csystem_pipe2(int fds[2], int flags) {
    return pipe2(fds, flags);
}

static volatile sig_atomic_t stop_requested = 0;

static void note_stop(int sig) {
    (void)sig;
    stop_requested = 1;
}

void csystem_trap_stop_signals(void) {
    struct sigaction action = {0};
    action.sa_handler = note_stop;
    sigemptyset(&action.sa_mask);
    (void)sigaction(SIGTERM, &action, NULL);
    (void)sigaction(SIGINT, &action, NULL);
    struct sigaction ignore = {0};
    ignore.sa_handler = SIG_IGN;
    (void)sigaction(SIGHUP, &ignore, NULL);
    (void)sigaction(SIGUSR1, &ignore, NULL);
}

int csystem_stop_requested(void) {
    return stop_requested;
}

int csystem_mkostemp(char *template_, int flags) {
    return mkostemp(template_, flags);
}

/* Only async-signal-safe calls between fork() and exec(): the parent has many threads. */
static void child_after_fork(const char *path, char *const argv[], int output, pid_t parent, int report) {
    sigset_t none;
    sigemptyset(&none);
    struct sigaction dfl = {0};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        (void)sigaction(sig, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP, RT internals */
    }
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
        /* The parent already died between fork and prctl: do not run without a supervisor. */
        _exit(127);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(output, 1) < 0 || dup2(output, 2) < 0) {
        int err = errno;
        (void)write(report, &err, sizeof err);
        _exit(127);
    }
    /* Close everything above stderr but the report pipe (close-on-exec, it closes at exec). */
    int top = (int)sysconf(_SC_OPEN_MAX);
    if (top < 0 || top > 65536) top = 65536;
    for (int fd = 3; fd < top; fd++) {
        if (fd != report) (void)close(fd);
    }
    execve(path, argv, environ);
    int err = errno;
    (void)write(report, &err, sizeof err);
    _exit(127);
}

pid_t csystem_spawn_supervised(const char *path, char *const argv[], int output, int *error) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        *error = errno;
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        *error = errno;
        close(report[0]);
        close(report[1]);
        return -1;
    }
    if (pid == 0) {
        close(report[0]);
        child_after_fork(path, argv, output, parent, report[1]);
    }
    close(report[1]);
    /* exec closes the report pipe: 0 bytes mean it succeeded, 4 bytes carry the errno. */
    int err = 0;
    ssize_t n;
    do { n = read(report[0], &err, sizeof err); } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof err) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *error = err;
        return -1;
    }
    return pid;
}

int csystem_add_entropy(int fd, const void *buf, int len, int bits) {
    if (len < 0 || len > 4096 || bits < 0) return -EINVAL;
    /* struct rand_pool_info ends in a flexible array of __u32: room for the header and len bytes. */
    union {
        struct rand_pool_info info;
        unsigned char raw[sizeof(struct rand_pool_info) + 4096];
    } request;
    request.info.entropy_count = bits;
    request.info.buf_size = len;
    if (len > 0) memcpy(request.info.buf, buf, (size_t)len);
    int result;
    do {
        result = ioctl(fd, RNDADDENTROPY, &request.info);
    } while (result == -1 && errno == EINTR);
    /* The copy held entropy bytes: do not leave them on the stack. */
    explicit_bzero(request.raw, sizeof(struct rand_pool_info) + (size_t)len);
    return result == -1 ? -errno : 0;
}

int csystem_reseed_crng(int fd) {
    int result;
    do {
        result = ioctl(fd, RNDRESEEDCRNG);
    } while (result == -1 && errno == EINTR);
    return result == -1 ? -errno : 0;
}

long csystem_getrandom(void *buf, unsigned long len, unsigned int flags) {
    ssize_t n;
    do {
        n = getrandom(buf, (size_t)len, flags);
    } while (n == -1 && errno == EINTR);
    return n == -1 ? -(long)errno : (long)n;
}

int csystem_timerfd_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
}

int csystem_timerfd_arm(int fd, long long nanoseconds) {
    struct itimerspec spec = {0};
    if (nanoseconds < 1) nanoseconds = 1; /* 0 would disarm */
    spec.it_value.tv_sec = (time_t)(nanoseconds / 1000000000LL);
    spec.it_value.tv_nsec = (long)(nanoseconds % 1000000000LL);
    return timerfd_settime(fd, 0, &spec, NULL) == 0 ? 0 : -errno;
}

void csystem_openlog(const char *ident, int facility) {
    static char kept[64];
    snprintf(kept, sizeof kept, "%s", ident);
    openlog(kept, LOG_PID, facility);
}

void csystem_syslog(int priority, const char *message) {
    syslog(priority, "%s", message);
}
