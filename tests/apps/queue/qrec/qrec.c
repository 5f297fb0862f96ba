/* qrec.c: the queue tests' queue-triggered function (trigger binding "msg").
 * Logs "QREC <body> id=<Id> dq=<DequeueCount> ct=<content type> ..." with
 * every metadata key, then obeys the message text:
 *   contains "fail"   return -EIO (to test retries and poison)
 *   "sleep:N..."      sleep N ms between "QSTART <body>" and "QEND <body>" lines
 * App settings: QREC_FILE appends "<body>\n" to that file after the work
 * (durability counting); QREC_QUIET=1 logs nothing (throughput). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fnhost/function.h>

FNH_FUNCTION_MODULE(0);

static const char *meta(fnh_ctx *ctx, const char *key)
{
    const char *v = fnh_input_meta(ctx, "msg", key);
    return v ? v : "(null)";
}

FNH_EXPORT int run(fnh_ctx *ctx)
{
    fnh_value v;
    int rc = fnh_input(ctx, "msg", &v);
    if (rc)
        return rc;
    const char *body = v.data;
    const char *quiet = fnh_setting(ctx, "QREC_QUIET");
    if (!quiet || strcmp(quiet, "1") != 0)
        fnh_log(ctx, FNH_LOG_INFO,
                "QREC %.*s id=%s dq=%s ct=%s ins=%s exp=%s nv=%s pr=%s qt=%s", (int)v.len, body,
                meta(ctx, "Id"), meta(ctx, "DequeueCount"),
                v.content_type ? v.content_type : "(null)", meta(ctx, "InsertionTime"),
                meta(ctx, "ExpirationTime"), meta(ctx, "NextVisibleTime"),
                meta(ctx, "PopReceipt"), meta(ctx, "QueueTrigger"));
    if (strncmp(body, "sleep:", 6) == 0) {
        long ms = atol(body + 6);
        fnh_log(ctx, FNH_LOG_INFO, "QSTART %s", body);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        fnh_log(ctx, FNH_LOG_INFO, "QEND %s", body);
    }
    if (strstr(body, "fail"))
        return -EIO;
    const char *file = fnh_setting(ctx, "QREC_FILE");
    if (file) {
        int fd = open(file, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fd < 0)
            return -errno;
        char line[256];
        int n = snprintf(line, sizeof line, "%.*s\n", (int)(v.len < 200 ? v.len : 200), body);
        ssize_t w = write(fd, line, (size_t)n);
        close(fd);
        if (w != n)
            return -EIO;
    }
    return 0;
}
