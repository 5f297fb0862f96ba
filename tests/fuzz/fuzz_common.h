/* fuzz_common.h: what the libFuzzer targets share: one private temp folder
 * per fuzzer process (removed at exit), writing input bytes to files in it,
 * and putting the process environment back after an input that set app
 * settings, and loading an app. Nothing here writes outside that temp folder. */
#ifndef FNH_FUZZ_COMMON_H
#define FNH_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The process's temp folder, "/tmp/fnhost-fuzz-<pid>-XXXXXX" (under $TMPDIR
 * if set), created on first call and removed with everything in it at exit;
 * the folders of earlier processes that crashed are removed first. */
const char *fuzz_tmpdir(void);
/* "<tmpdir>/<rel>" in a static buffer (valid until the next call). */
const char *fuzz_path(const char *rel);
/* Writes n bytes to <tmpdir>/<rel>, creating parent folders. Aborts on
 * failure (the harness is broken, not the code under test). */
void fuzz_write(const char *rel, const void *data, size_t n);
void fuzz_write_str(const char *rel, const char *text);
/* Removes <tmpdir>/<rel> (a file or a whole folder). */
void fuzz_remove(const char *rel);

/* Records the current environment; fuzz_env_restore() then unsets every
 * variable set since (local.settings.json "Values" are exported with
 * setenv) and puts back changed values. */
void fuzz_env_snapshot(void);
void fuzz_env_restore(void);

/* Loads the app at root as `fnhost start` reads it (no code loaded), reads
 * every string of the result, matches a few paths, frees it and resets the
 * log levels and the environment the load changed. */
void fuzz_app_load(const char *root);

/* malloc'd NUL-terminated copy of the input. */
char *fuzz_cstr(const uint8_t *data, size_t size);

#endif
