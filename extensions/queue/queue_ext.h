/* queue_ext.h: what queue_ext.c (descriptor, trigger, output binding) and
 * queue_cli.c (`fnhost queue`) share: the default connection setting name
 * and the CLI command's entry point. */
#ifndef FNH_QUEUE_EXT_H
#define FNH_QUEUE_EXT_H

#include <stdint.h>

#include <fnhost/extension.h>

#define QUEUE_DEFAULT_SETTING "AzureWebJobsStorage"

/* `fnhost queue put|peek|list`. */
int fnh_queue_cli(fnh_ext *ext, int argc, char **argv);

#endif
