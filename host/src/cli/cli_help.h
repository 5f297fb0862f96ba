/* cli_help.h: fnhost --cflags (where the installed or checked-out public
 * headers are) and fnhost help TOPIC (guides compiled into the binary). */
#ifndef FNH_CLI_HELP_H
#define FNH_CLI_HELP_H

/* Prints "-I<dir>" of the folder holding fnhost/function.h: <exe>/../include
 * for an installed fnhost, <exe>/../host/include for one run from a build
 * folder of a source checkout. Returns the exit status (1 when not found,
 * after saying so on stderr). */
int fnh__cli_cflags(void);

/* Prints the guide of topic ("extensions") to stdout. Returns 0, or
 * -ENOENT when there is no such topic. */
int fnh__cli_help_topic(const char *topic);

#endif
