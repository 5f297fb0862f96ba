/* child.h: code that runs inside a child process the supervisor started:
 * dying with the host, and the two hidden subcommands main() dispatches to
 * ("fnhost __native-child", "fnhost __exec-child PROGRAM ARGS..."). */
#ifndef FNH_CHILD_H
#define FNH_CHILD_H

/* The environment variable the supervisor sets to its own pid. */
#define FNH__PARENT_PID_ENV "FNHOST_PARENT_PID"

/* Asks the kernel to SIGKILL this process when the host ends (even by
 * kill -9), then checks the host did not end before that: returns 0, or -1
 * when the parent is already gone (the caller exits). */
int fnh__die_with_parent(void);

/* fnhost __exec-child PROGRAM ARGS...: dies with the host, then execvp's
 * PROGRAM (for programs the supervisor starts that cannot set
 * PR_SET_PDEATHSIG themselves). Returns only on failure: 127. */
int fnh__exec_child_main(int argc, char **argv);

/* fnhost __native-child [--fd N]: the isolated native runner's child
 * (native_child.c). Returns the process exit status. */
int fnh__native_child_main(int argc, char **argv);

#endif
