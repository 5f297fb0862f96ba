/* cli_scaffold.h: fnhost init, fnhost new and fnhost templates (the
 * scaffolding commands; templates compiled into the binary). */
#ifndef FNH_CLI_SCAFFOLD_H
#define FNH_CLI_SCAFFOLD_H

/* Each runs one command; argv[0] is the command's name ("init", "new",
 * "templates"), argv is borrowed. Output on stdout, problems on stderr.
 * Returns the exit status: 0, 1 (refused or failed) or 2 (bad usage). */
int fnh__cli_init(int argc, char **argv);
int fnh__cli_new(int argc, char **argv);
int fnh__cli_templates(int argc, char **argv);

#endif
