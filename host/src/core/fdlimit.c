/* fdlimit.c: the open-file limit: raised to the hard limit at start-up, and
 * reported once when the host runs out of descriptors (or comes close: libuv
 * sheds connections it cannot accept without telling the server). */
#include "fdlimit.h"

#include <stdatomic.h>
#include <sys/resource.h>

#include "log.h"

/* Descriptors kept in hand below the limit before the warning. */
#define FD_HEADROOM 8

static atomic_ullong g_limit; /* the soft limit after raising; 0 = unknown */

void fnh__fdlimit_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    atomic_store(&g_limit, rl.rlim_cur == RLIM_INFINITY ? 0 : (unsigned long long)rl.rlim_cur);
}

void fnh__log_emfile_once(void)
{
    static atomic_int logged;
    if (atomic_exchange(&logged, 1))
        return;
    struct rlimit rl;
    unsigned long long cur = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (unsigned long long)rl.rlim_cur
                                                               : 0;
    fnh__log("Host", FNH_LOG_ERROR,
             "Too many open files: the host is at its limit of %llu file descriptors "
             "(RLIMIT_NOFILE) and refuses new connections until some close; raise the limit "
             "(ulimit -n, or LimitNOFILE= for a systemd service)",
             cur);
}

void fnh__fdlimit_check(int fd)
{
    unsigned long long limit = atomic_load(&g_limit);
    if (fd >= 0 && limit > FD_HEADROOM && (unsigned long long)fd + FD_HEADROOM >= limit)
        fnh__log_emfile_once();
}
