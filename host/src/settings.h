/* settings.h: app settings. local.settings.json "Values" are validated and
 * exported into the process environment (real environment variables win),
 * so functions, handlers and the host all read one source: getenv. */
#ifndef FNH_SETTINGS_H
#define FNH_SETTINGS_H

#include "strlist.h"

struct cJSON;

/* Reads <root>/local.settings.json if present. Each problem is appended to
 * errors as a sentence naming the file, the key and the fix; valid keys are
 * still applied. *host_section receives a copy of its "Host" object (or NULL;
 * caller frees with cJSON_Delete). Start-up only (calls setenv). Returns 0,
 * or -ENOMEM. */
int fnh__settings_load(const char *root, fnh__strlist *errors, fnh__strlist *notes,
                       struct cJSON **host_section);

/* An app setting (environment after load); borrowed from the environment;
 * NULL when unset. Any thread once start-up is over. */
const char *fnh__setting(const char *name);

/* Replaces every %Name% in s with the app setting Name. Returns a malloc'd
 * string (caller frees), or NULL with *missing = malloc'd name of the first
 * setting that does not resolve (caller frees). */
char *fnh__settings_expand(const char *s, char **missing);

#endif
