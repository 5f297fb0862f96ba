/* settings.h: app settings. local.settings.json "Values" are validated and
 * kept with the app; a setting is the real environment variable when there
 * is one, else the Value. At start-up (only) the Values are also exported
 * into the process environment, for code that reads getenv and for child
 * processes. Its "Host" section gives the local port and CORS. */
#ifndef FNH_SETTINGS_H
#define FNH_SETTINGS_H

#include "strlist.h"

/* What local.settings.json says, and every problem with it. Each message is
 * one sentence naming the file, the key (or line and column) and the fix. */
typedef struct fnh__local_settings {
    fnh__strlist values;  /* "NAME=value" for each valid Values entry, in file order */
    int local_port;       /* Host.LocalHttpPort, 0 when unset */
    char *cors;           /* Host.CORS, NULL when unset or empty */
    int cors_credentials; /* Host.CORSCredentials */
    fnh__strlist fatal;    /* the file cannot be used (syntax, not an object, bad
                            * port): the host must not start */
    fnh__strlist errors;   /* one bad key, skipped; the rest applies */
    fnh__strlist warnings; /* keys that look like typos */
    fnh__strlist notes;    /* informational lines */
} fnh__local_settings;

/* Validates local.settings.json text (len bytes, as read from the file) into
 * out, which must be zeroed ({0}); touches no global state (the entry point
 * for tests and fuzzers). Returns 0, or -ENOMEM. Free out with
 * fnh__settings_free. Any thread. */
int fnh__settings_parse(const char *text, size_t len, fnh__local_settings *out);

/* Reads <root>/local.settings.json if present (a missing file is no
 * problem) and validates it into out (zeroed); a Value the environment
 * already sets is noted in out->notes. Writes nothing global. Returns 0, or
 * -ENOMEM. */
int fnh__settings_load(const char *root, fnh__local_settings *out);
/* Exports "NAME=value" entries into the environment unless already set
 * there. Start-up only (setenv is not thread-safe). */
void fnh__settings_export(const fnh__strlist *values);

void fnh__settings_free(fnh__local_settings *s);
/* 1 when name (or the name of a "NAME=VALUE" entry) is in the environment
 * only because fnh__settings_export put it there from local.settings.json
 * (a reload's new Value then wins). Any thread once start-up is over. */
int fnh__settings_exported(const char *name);
/* Appends to out (the environment a child process starts with, beside the
 * host's) each "NAME=VALUE" app setting the child must get: those the
 * environment lacks or holds only as a start-up copy (a real environment
 * variable wins; the child inherits it). Returns 0 or -ENOMEM. */
int fnh__settings_for_child(const fnh__strlist *settings, fnh__strlist *out);

/* An app setting: the environment variable, else the entry of values
 * ("NAME=value"; may be NULL); for a name the host exported itself from
 * local.settings.json, only values (the current snapshot's). Borrowed; NULL when unset. Any thread once
 * start-up is over. */
const char *fnh__setting(const fnh__strlist *values, const char *name);

/* Replaces every %Name% in s with the app setting Name (as fnh__setting).
 * Returns a malloc'd string (caller frees), or NULL with *missing =
 * malloc'd name of the first setting that does not resolve (caller frees). */
char *fnh__settings_expand(const fnh__strlist *values, const char *s, char **missing);

#endif
