/* strlist.h: a growable list of malloc'd strings (error and warning lists). */
#ifndef FNH_STRLIST_H
#define FNH_STRLIST_H

#include <stddef.h>

typedef struct fnh__strlist {
    char **items;
    size_t len;
} fnh__strlist;

/* Appends a printf-formatted, malloc'd string. 0 or -ENOMEM. */
int fnh__strlist_addf(fnh__strlist *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s, taking ownership (s is freed on failure). 0 or -ENOMEM. */
int fnh__strlist_take(fnh__strlist *l, char *s);
void fnh__strlist_free(fnh__strlist *l);

#endif
