/* secret_file.h: one secrets file on disk: read it, write it atomically
 * (mode 0600, its folder 0700), and make new key values from the OS CSPRNG.
 * Any thread; no state. */
#ifndef FNH_SECRET_FILE_H
#define FNH_SECRET_FILE_H

#include <stddef.h>

struct cJSON;

/* Creates dir and its missing parents with mode 0700. 0 or -errno. */
int fnh__secret_mkdir(const char *dir);
/* Reads path as JSON into *out (caller frees with cJSON_Delete). 0,
 * -ENOENT when absent, -EINVAL when it is not a JSON object (then *err is
 * a malloc'd sentence naming the file, the caller frees it), or -errno. */
int fnh__secret_read(const char *path, struct cJSON **out, char **err);
/* Writes doc to path atomically with mode 0600 (a temporary file beside it,
 * synced, then renamed over it). With exclusive set, an existing path is
 * left alone and -EEXIST returned (two processes creating the file at once
 * agree on one). 0 or -errno. doc is borrowed. */
int fnh__secret_write(const char *path, const struct cJSON *doc, int exclusive);
/* A new key value: 40 random bytes from getrandom, Base64, '+' replaced by
 * 'a' (as Azure's SecretManager). out must hold 57 bytes. 0 or -errno. */
int fnh__secret_generate(char out[57]);
/* 32 random hex digits (an instance id). out must hold 33 bytes. */
int fnh__secret_hex(char out[33]);

#endif
