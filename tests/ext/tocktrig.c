/* tocktrig.c: an extension whose trigger type, "tock", does not end in
 * "Trigger"; function.json would take such a type for an input or output
 * binding, so the host refuses the extension. */
#include <fnhost/extension.h>

static const fnh_trigger_type tock = {sizeof(fnh_trigger_type), "tock", NULL, NULL, NULL, NULL,
                                      NULL, NULL, 0};
static const fnh_trigger_type *const triggers[] = {&tock, NULL};

FNH_EXPORT const fnh_extension_def fnh_extension = {
    FNH_EXTENSION_HEAD, "tock", "1.0.0", NULL, NULL, triggers, NULL, NULL};
