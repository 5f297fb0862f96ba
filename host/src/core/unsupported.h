/* unsupported.h: settings fnhost reads past without implementing them
 * (host.json sections, function.json binding properties, proxies.json) and
 * identity-based connections, which map to the local storage emulation. */
#ifndef FNH_UNSUPPORTED_H
#define FNH_UNSUPPORTED_H

#include "strlist.h"

struct cJSON;

/* Adds to warnings one sentence for each setting of host.json (the parsed
 * object host, borrowed) that fnhost does not implement: file, JSON path,
 * and that it has no effect here. */
void fnh__unsupported_host_json(const struct cJSON *host, fnh__strlist *warnings);

/* The same for one function.json binding (bj, borrowed) of type type;
 * config_file names the file, at is "bindings[i]"; native is 1 for a
 * function whose scriptFile is a .so. */
void fnh__unsupported_binding(const struct cJSON *bj, const char *type, const char *config_file,
                              const char *at, int native, fnh__strlist *warnings);

/* Adds a warning when root holds a proxies.json. */
void fnh__unsupported_files(const char *root, fnh__strlist *warnings);

/* 1 when the app setting name is an identity-based connection: no setting
 * name, but name__serviceUri, __accountName, __queueServiceUri,
 * __blobServiceUri or __tableServiceUri is set (in the environment or
 * values, "NAME=value", may be NULL); else 0. Any thread after start-up. */
int fnh__identity_connection(const fnh__strlist *values, const char *name);

/* Adds to notes one line for each identity-based connection in values and
 * the environment, saying it maps to the local storage emulation. */
void fnh__identity_notes(const fnh__strlist *values, fnh__strlist *notes);

/* What an identity-based connection reads as: the local emulation. */
#define FNH__IDENTITY_CONNECTION_VALUE "UseDevelopmentStorage=true"

#endif
