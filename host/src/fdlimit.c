/* fdlimit.c: the open-file limit: raised to the hard limit at start-up, and
 * reported once when the host runs out of descriptors. */
#include "fdlimit.h"

#include <stdatomic.h>
#include <sys/resource.h>

#include "log.h"

void fnh__fdlimit_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
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
             "Too many open files: the host has used all %llu file descriptors it may open "
             "(RLIMIT_NOFILE) and refuses new connections until some close; raise the limit "
             "(ulimit -n, or LimitNOFILE= for a systemd service)",
             cur);
}
