/* child_exec.c: the first thing a supervised child does: tie its life to
 * the host's (PR_SET_PDEATHSIG, then a check that the host did not die
 * before), and "fnhost __exec-child", which does only that and then runs
 * another program in its place. */
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int fnh__die_with_parent(void)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        return -1;
    /* the host may have died between fork and prctl: then we were
     * re-parented and nobody will signal us */
    const char *want = getenv(FNH__PARENT_PID_ENV);
    if (want && atol(want) != (long)getppid())
        return -1;
    return 0;
}

int fnh__exec_child_main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fnhost __exec-child PROGRAM [ARGS...]\n");
        return 2;
    }
    if (fnh__die_with_parent() != 0)
        return 1;
    unsetenv(FNH__PARENT_PID_ENV);
    execvp(argv[1], argv + 1);
    fprintf(stderr, "fnhost: cannot run '%s': %s\n", argv[1], strerror(errno));
    return 127;
}
