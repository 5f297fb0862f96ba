/* cli_help.c: fnhost --cflags, found from the running binary's own path so
 * it works for an install and a source checkout alike, and fnhost help
 * TOPIC, printing the guides embedded in the binary (embedded.h). */
#include "cli_help.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embedded.h"

/* 1 when <dir>/fnhost/function.h is a file. */
static int has_header(const char *dir)
{
    char p[PATH_MAX + 64];
    struct stat st;
    if (snprintf(p, sizeof p, "%s/fnhost/function.h", dir) >= (int)sizeof p)
        return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int fnh__cli_cflags(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr, "fnhost --cflags: cannot read /proc/self/exe: %s\n", strerror(errno));
        return 1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';                            /* .../bin or .../build */
    static const char *const rel[] = {"../include", "../host/include", "../../host/include"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char cand[PATH_MAX + 32], real[PATH_MAX];
        snprintf(cand, sizeof cand, "%s/%s", exe, rel[i]);
        if (has_header(cand) && realpath(cand, real)) {
            printf("-I%s\n", real);
            return 0;
        }
    }
    fprintf(stderr, "fnhost --cflags: fnhost/function.h is neither in %s/../include (an "
                    "installed fnhost: run make install) nor in %s/../host/include (a build "
                    "folder of a source checkout)\n",
            exe, exe);
    return 1;
}

int fnh__cli_help_topic(const char *topic)
{
    if (strcasecmp(topic, "extensions") == 0 || strcasecmp(topic, "extension") == 0) {
        const fnh__embedded_file *f = fnh__embedded_find("docs/writing-an-extension.md");
        if (!f)
            return -ENOENT;
        fwrite(f->data, 1, f->len, stdout);
        return 0;
    }
    return -ENOENT;
}
