/*
 * fdatasync_ctl: an LD_PRELOAD shim for test_durability.py. It wraps the
 * real fdatasync so a test can make it fail or slow it down while the
 * server runs, by creating files in $COFFER_TEST_FSYNC_DIR:
 *   fail  every fdatasync fails with EIO (as a dying disk's would)
 *   slow  every fdatasync sleeps 1 s first; "start" and "done <ns>"
 *         (CLOCK_MONOTONIC, after the real call returned) are appended
 *         to the file "log"
 * Nothing else changes; without the variable it is the real call.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int
ctl_exists(const char *dir, const char *name)
{
    char  p[PATH_MAX];

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void
ctl_log(const char *dir, const char *line)
{
    char  p[PATH_MAX];
    int   fd;

    snprintf(p, sizeof(p), "%s/log", dir);
    fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        (void) write(fd, line, strlen(line));
        close(fd);
    }
}

int
fdatasync(int fd)
{
    static int     (*real)(int);
    const char      *dir = getenv("COFFER_TEST_FSYNC_DIR");
    struct timespec  ts;
    char             line[64];
    int              rc;

    if (real == NULL)
        real = (int (*)(int)) dlsym(RTLD_NEXT, "fdatasync");
    if (dir == NULL)
        return real(fd);
    if (ctl_exists(dir, "fail")) {
        errno = EIO;
        return -1;
    }
    if (!ctl_exists(dir, "slow"))
        return real(fd);
    ctl_log(dir, "start\n");
    sleep(1);
    rc = real(fd);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(line, sizeof(line), "done %lld\n",
             (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec);
    ctl_log(dir, line);
    return rc;
}
