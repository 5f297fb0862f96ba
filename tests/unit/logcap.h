/* logcap.h: captures what the host log writes to stdout during a unit test
 * (fd 1 points at a temporary file in between) and searches it by line.
 * printf output of failed checks waits in stdout's buffer meanwhile: call
 * logcap_init once, first. Header-only; for tests/unit/test-*.c. */
#ifndef FNH_LOGCAP_H
#define FNH_LOGCAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static int logcap__saved = -1;
static char logcap__path[64];

static void logcap_init(void)
{
    static char buf[1 << 16];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
}

static void logcap_begin(void)
{
    fflush(stdout);
    fnh__log_flush();
    snprintf(logcap__path, sizeof logcap__path, "/tmp/fnhost-unit-log-XXXXXX");
    int fd = mkstemp(logcap__path);
    logcap__saved = dup(1);
    dup2(fd, 1);
    close(fd);
}

/* The log since logcap_begin (malloc'd); stdout is restored. */
static char *logcap_end(void)
{
    fnh__log_flush();
    dup2(logcap__saved, 1);
    close(logcap__saved);
    char *text = NULL;
    size_t len = 0;
    if (fnh__read_file(logcap__path, &text, &len) != 0)
        text = fnh__strdup("");
    unlink(logcap__path);
    return text;
}

/* 1 when one line of log contains a and, when given, b and c. */
static int logcap_has(const char *log, const char *a, const char *b, const char *c)
{
    for (const char *line = log; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        char *l = fnh__strndup(line, n);
        int ok = strstr(l, a) && (!b || strstr(l, b)) && (!c || strstr(l, c));
        free(l);
        if (ok)
            return 1;
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

#endif
