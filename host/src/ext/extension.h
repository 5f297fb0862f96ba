/* extension.h (private): binding extensions on the host side: the manifest
 * registry (config/extensions.json, FNHOST_EXTENSIONS_PATH, the app's own
 * extensions/ folder), on-demand loading with the ABI check before any
 * extension code runs, the init -> bind -> start -> stop -> unbind -> fini
 * lifetime, the fnh_fire queue, and input/output binding calls. Loop thread
 * unless noted. */
#ifndef FNH_EXTENSION_PRIVATE_H
#define FNH_EXTENSION_PRIVATE_H

#include <stdio.h>
#include <uv.h>

#include "app.h"
#include "invocation.h"

/* Reads every manifest for the app at root (no dlopen). Problems go to
 * errors. Call once before fnh__app_load (app.c asks it for types). */
int fnh__ext_registry_load(const char *root, fnh__strlist *errors);
void fnh__ext_registry_free(void);
/* 1 if an installed extension provides the binding type. */
int fnh__ext_provides(const char *type);
/* "httpTrigger, http, timerTrigger, queueTrigger, queue, ..." (static). */
const char *fnh__ext_installed_types(const char *builtin);

/* Loads the extensions whose types the app's healthy functions use, runs
 * init and bind. A failure adds an error to every function that uses the
 * failing type. Returns 0 or -ENOMEM. */
int fnh__ext_load_for_app(fnh__app *app, uv_loop_t *loop);
/* Starts every trigger binding (just before the loop runs). */
void fnh__ext_start(void);
/* Stops every trigger binding: no fnh_fire succeeds after this returns. */
void fnh__ext_stop(void);
/* Unbinds, finis and unloads (after in-flight invocations finished). With
 * busy set (invocations abandoned at shutdown) it leaves everything loaded. */
void fnh__ext_unload(int busy);
/* Appends a JSON array of loaded extensions ([{"name","version","file"}]). */
void fnh__ext_status_json(fnh__buf *b);

/* Worker thread: runs the function's extension input bindings (before the
 * entry point) and output bindings (after it). Return 0 or -errno. */
int fnh__ext_read_inputs(fnh__invocation *inv);
int fnh__ext_write_outputs(fnh__invocation *inv);

/* `fnhost extensions list|check FILE` and `fnhost <command>` from an
 * extension. Return the exit status; fnh__ext_command returns -ENOENT when
 * no extension provides the command. */
int fnh__ext_cli(int argc, char **argv);
int fnh__ext_command(int argc, char **argv);
/* One line per extension command for `fnhost help`. */
void fnh__ext_help(FILE *f);

#endif
