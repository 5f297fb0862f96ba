/* cli_invoke.h: the `fnhost invoke` command: runs one function of a running
 * host through POST /admin/functions/{name}?wait=true and prints the result.
 * Blocking; its own process. */
#ifndef FNH_CLI_INVOKE_H
#define FNH_CLI_INVOKE_H

/* fnhost invoke NAME [--data JSON|TEXT|@FILE] [--port N] [--host ADDR]
 *                    [--script-root DIR]
 * argv[0] is "invoke". The data (JSON as is, other text as a string, @FILE
 * the file's content) is the body's "input". With the app's secrets present
 * (DIR/.fnhost/secrets/host.json, DIR the current folder by default) the
 * master key goes along in x-functions-key. Prints the result JSON on
 * stdout. Returns the exit status: 0 the function succeeded, 1 it failed,
 * 2 bad usage, 3 the host could not be reached or refused the call (one
 * sentence on stderr saying what to do). */
int fnh__cli_invoke(int argc, char **argv);

#endif
