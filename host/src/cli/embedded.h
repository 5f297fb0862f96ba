/* embedded.h: files compiled into the binary (the scaffolding templates of
 * host/src/cli/templates/ and docs/writing-an-extension.md), generated at
 * build time by host/src/cli/templates/embed.py. */
#ifndef FNH_EMBEDDED_H
#define FNH_EMBEDDED_H

#include <stddef.h>

typedef struct fnh__embedded_file {
    const char *path; /* "function/http-native/function.json", "docs/..." */
    const char *data; /* static; NUL-terminated */
    size_t len;
} fnh__embedded_file;

/* Every embedded file, ended by an entry whose path is NULL. */
extern const fnh__embedded_file fnh__embedded_files[];

/* The embedded file at path, or NULL. Any thread; the result is static. */
const fnh__embedded_file *fnh__embedded_find(const char *path);

#endif
