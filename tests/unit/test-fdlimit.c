/* test-fdlimit.c: the open-file limit (fdlimit.c): raised from a lowered
 * soft limit to the hard one, and running out of descriptors logged once
 * however often it is reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fdlimit.h"
#include "log.h"
#include "unit.h"
#include "util.h"

static void raises_soft_to_hard(void)
{
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rlim_t hard = rl.rlim_max;
    rl.rlim_cur = 64;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    fnh__fdlimit_raise();
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHECK(rl.rlim_cur == hard && rl.rlim_max == hard);
}

static void emfile_logged_once(void)
{
    char path[] = "/tmp/fnhost-fdlimit-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    fnh__log_init(0, 0);
    for (int i = 0; i < 3; i++)
        fnh__log_emfile_once();
    fnh__log_flush();
    dup2(saved, 1);
    close(saved);
    close(fd);
    char *text = NULL;
    CHECK(fnh__read_file(path, &text, NULL) == 0);
    unlink(path);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, "Too many open files")); p++)
        n++;
    CHECK(n == 1);
    CHECK(text && strstr(text, "(RLIMIT_NOFILE) and refuses new connections until some close; "
                               "raise the limit (ulimit -n"));
    free(text);
    fnh__log_shutdown();
}

int main(void)
{
    UNIT_RUN(raises_soft_to_hard);
    UNIT_RUN(emfile_logged_once);
    UNIT_END();
}
