/* fuzz_tz.c: libFuzzer target for the time-zone reader (ncrontab.c): an input
 * starting with "TZif" is a zone file (in a private TZDIR), anything else a
 * zone name or POSIX TZ rule. A zone that loads is used for offsets, local
 * time conversions and next occurrences, which must be strictly later. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "ncrontab.h"

static fnh__cron *g_crons[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_write_str("zoneinfo/.keep", "");
    setenv("TZDIR", fuzz_path("zoneinfo"), 1); /* no system zone file is read */
    /* a point in time inside the usual DST hours, and an interval */
    if (fnh__cron_parse("0 30 2 * * *", &g_crons[0], NULL) != 0 ||
        fnh__cron_parse("0 */20 * * * *", &g_crons[1], NULL) != 0)
        abort();
    return 0;
}

static void use_zone(const fnh__tz *tz)
{
    (void)strlen(fnh__tz_name(tz));
    /* year 1, 1970, 2024 spring and fall, 9999 */
    static const int64_t instants[] = {-62135596800 + 86400, 0, 1710052200, 1730611800,
                                       253402300799 - 86400};
    for (size_t i = 0; i < sizeof instants / sizeof *instants; i++) {
        int64_t t = instants[i];
        (void)fnh__tz_offset(tz, t);
        fnh__civil local;
        int off;
        if (fnh__tz_to_local(tz, t * 1000, &local, &off) == 0) {
            if (!fnh__civil_valid(&local))
                abort();
            int64_t back;
            (void)fnh__tz_is_ambiguous(tz, &local);
            (void)fnh__tz_from_local(tz, &local, &back);
        }
        for (size_t c = 0; c < 2; c++) {
            int64_t at = t * 1000, next;
            for (int k = 0; k < 3; k++) {
                if (fnh__sched_next_utc_tz(g_crons[c], tz, at, &next, &local) != 0)
                    break;
                if (next <= at) {
                    fprintf(stderr, "fuzz_tz: next occurrence %lld not after %lld\n",
                            (long long)next, (long long)at);
                    abort();
                }
                at = next;
            }
        }
    }
    static const fnh__civil civils[] = {
        {2024, 3, 10, 2, 30, 0}, {2024, 11, 3, 1, 30, 0}, {1, 1, 1, 0, 0, 0}, {9999, 12, 31, 23, 59, 59}};
    for (size_t i = 0; i < sizeof civils / sizeof *civils; i++) {
        int64_t s;
        (void)fnh__tz_from_local(tz, &civils[i], &s);
        (void)fnh__tz_is_ambiguous(tz, &civils[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fnh__tz *tz = NULL;
    char *err = NULL;
    if (size >= 4 && memcmp(data, "TZif", 4) == 0) {
        fuzz_write("zoneinfo/Fuzz/Zone", data, size);
        if (fnh__tz_load("Fuzz/Zone", &tz, &err) == 0)
            use_zone(tz);
        fuzz_remove("zoneinfo/Fuzz");
    } else {
        char *name = fuzz_cstr(data, size);
        const char *n = name[0] == ':' ? name + 1 : name;
        if (n[0] != '/' && fnh__tz_load(name, &tz, &err) == 0) /* absolute: a file anywhere */
            use_zone(tz);
        free(name);
    }
    fnh__tz_free(tz);
    free(err);
    return 0;
}
