/* strlist.c: growable lists of owned strings. */
#include "strlist.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include "util.h"

int fnh__strlist_take(fnh__strlist *l, char *s)
{
    if (!s)
        return -ENOMEM;
    char **p = realloc(l->items, (l->len + 1) * sizeof *p);
    if (!p) {
        free(s);
        return -ENOMEM;
    }
    l->items = p;
    l->items[l->len++] = s;
    return 0;
}

int fnh__strlist_addf(fnh__strlist *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = fnh__vasprintf(fmt, ap);
    va_end(ap);
    return fnh__strlist_take(l, s);
}

void fnh__strlist_free(fnh__strlist *l)
{
    for (size_t i = 0; i < l->len; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->len = 0;
}
