/* worker_config.h: finding a language worker as Azure does and reading its
 * worker.config.json into a plain struct. Any thread; reads the
 * environment. May call: json, util, strlist, ncrontab (TimeSpans). */

/* A worker is a folder holding <language>/worker.config.json, searched in
 * FNHOST_WORKERS_PATH (colon-separated), workers/ beside the fnhost binary
 * (or its parent folder), <prefix>/lib/fnhost/workers, then the workers/
 * folder beside a Core Tools `func` on PATH (symlinks resolved); the app
 * setting languageWorkers__<language>__workerDirectory overrides one. */
#ifndef FNH_WORKER_CONFIG_H
#define FNH_WORKER_CONFIG_H

#include <stdint.h>

#include "strlist.h"

typedef struct fnh__worker_config {
    char *language;        /* "node" */
    char *dir;             /* the worker's folder (absolute) */
    char *config_file;     /* <dir>/worker.config.json, for messages */
    char *executable;      /* defaultExecutablePath as written ("node") */
    char *exe_path;        /* resolved on PATH, absolute */
    char *worker_path;     /* <dir>/<defaultWorkerPath> */
    fnh__strlist arguments;        /* description.arguments */
    fnh__strlist worker_arguments; /* description.workerArguments */
    int indexing;          /* description.workerIndexing */
    int64_t init_timeout_ms; /* processOptions.initializationTimeout (default 2 min) */
} fnh__worker_config;

/* Finds and reads the worker of language. dir_override: the app setting
 * languageWorkers__<language>__workerDirectory, or NULL. On success fills
 * *out (free with fnh__worker_config_free) and returns 0. Otherwise returns
 * -ENOENT (no worker found), -ENOEXEC (its program is not on PATH) or
 * -EINVAL (a bad worker.config.json), with *error a malloc'd sentence
 * saying what to install or set. */
int fnh__worker_config_find(const char *language, const char *dir_override,
                            fnh__worker_config *out, char **error);
/* Reads the worker folder dir (holding worker.config.json); as above. */
int fnh__worker_config_read(const char *dir, fnh__worker_config *out, char **error);
void fnh__worker_config_free(fnh__worker_config *c);

#endif
