/* unit.h: the tiny harness every tests/unit/test-*.c uses. Each CHECK prints
 * nothing on success; each failure prints "FAIL <test>: <file>:<line>: <expr>".
 * UNIT_RUN(fn) prints "PASS <fn>" or counts it failed. main returns the
 * number of failed tests, so the runner (tests/run.py) can count both. */
#ifndef FNH_UNIT_H
#define FNH_UNIT_H
#include <stdio.h>
#include <string.h>

static int unit__failed_checks;
static int unit__failed_tests;
static const char *unit__current;

#define CHECK(expr)                                                                    \
    do {                                                                               \
        if (!(expr)) {                                                                 \
            printf("FAIL %s: %s:%d: %s\n", unit__current, __FILE__, __LINE__, #expr); \
            unit__failed_checks++;                                                     \
        }                                                                              \
    } while (0)

#define CHECK_STR(got, want)                                                           \
    do {                                                                               \
        const char *g_ = (got), *w_ = (want);                                          \
        if (!((g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0))) {      \
            printf("FAIL %s: %s:%d: got \"%s\", want \"%s\"\n", unit__current,         \
                   __FILE__, __LINE__, g_ ? g_ : "(null)", w_ ? w_ : "(null)");        \
            unit__failed_checks++;                                                     \
        }                                                                              \
    } while (0)

#define UNIT_RUN(fn)                                                                   \
    do {                                                                               \
        int before_ = unit__failed_checks;                                             \
        unit__current = #fn;                                                           \
        fn();                                                                          \
        if (unit__failed_checks == before_)                                            \
            printf("PASS %s\n", #fn);                                                  \
        else                                                                           \
            unit__failed_tests++;                                                      \
    } while (0)

#define UNIT_END() return unit__failed_tests > 125 ? 125 : unit__failed_tests

#endif
