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

#include "fnhost/extension.h"

#include "app.h"
#include "invocation.h"

/* Reads every manifest for the app at root (no dlopen). Problems go to
 * errors. Call once before fnh__app_load (app.c asks it for types). */
int fnh__ext_registry_load(const char *root, fnh__strlist *errors);
void fnh__ext_registry_free(void);
/* Registers a provider compiled into the host (the HTTP and Timer
 * triggers), before the app loads. It goes through the same lifetime as an
 * extension (init with its host.json section, bind, start, complete, stop,
 * unbind, fini) and is listed before extensions; def is static. 0 or
 * -ENOSPC. */
int fnh__ext_register_builtin(const fnh_extension_def *def);

/* Checks that every binding type the app's healthy functions use is
 * provided, sets up the built-in providers, loads (load_files) the
 * extensions those functions use, runs init and bind. A failure adds an
 * error to every function that uses the failing type (a built-in's init
 * failure is a host error). loop may be NULL (no start). Returns 0 or
 * -ENOMEM. */
int fnh__ext_load_for_app(fnh__app *app, uv_loop_t *loop, int load_files);
/* Starts every trigger binding of app (just before the loop runs). The
 * bindings are app's "bindings" part: unbound when the app is freed. */
void fnh__ext_start(fnh__app *app);
/* Stops every trigger binding of app: no fnh_fire succeeds after this. */
void fnh__ext_stop(fnh__app *app);
/* Finis and unloads every extension (after the apps that bound them were
 * freed). With busy set (invocations abandoned at shutdown) it leaves
 * everything loaded. */
void fnh__ext_unload(int busy);
/* With on set (a host that reloads), an extension is finied and unloaded
 * as soon as the last snapshot that bound it is freed; off (shutdown), they
 * wait for fnh__ext_unload. */
void fnh__ext_unload_idle(int on);
/* Appends to out the file of every loaded extension (the manifests' paths,
 * copied), so a rebuild of one can be watched for. */
void fnh__ext_files(fnh__strlist *out);
/* Appends a JSON array of loaded extensions ([{"name","version","file"}]). */
void fnh__ext_status_json(fnh__buf *b);

/* A manual run of fn (admin API) through its trigger's invoke hook, or
 * with input as the trigger value. 0 when an invocation started, -ENOENT
 * when fn has no bound trigger, or the hook's negative errno. Loop thread. */
int fnh__ext_invoke(fnh__function *fn, const fnh_value *input);

/* For the built-in providers, which are host code: the model behind a
 * binding handle or config, and where a config's error sentences go (they
 * are appended as written, without the location prefix fnh_config_fail
 * adds). */
fnh__function *fnh__binding_function(const fnh_binding *b);
fnh__binding *fnh__binding_model(const fnh_binding *b);
fnh__app *fnh__binding_app(const fnh_binding *b);
/* The state bind stored for binding handle b (NULL when b is NULL). */
void *fnh__binding_state(const fnh_binding *b);
const struct cJSON *fnh__config_cjson(const fnh_config *c);
fnh__strlist *fnh__config_errors(const fnh_config *c);
fnh__app *fnh__config_app(const fnh_config *c);

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
