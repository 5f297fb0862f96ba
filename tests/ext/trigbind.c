/* trigbind.c: an extension whose input binding type, "lookupTrigger", ends
 * in "Trigger"; function.json would take it for a trigger, so the host
 * refuses the extension. */
#include <fnhost/extension.h>

static const fnh_binding_type lookup = {sizeof(fnh_binding_type), "lookupTrigger", FNH_IN,
                                        NULL, NULL, NULL, NULL};
static const fnh_binding_type *const bindings[] = {&lookup, NULL};

FNH_EXPORT const fnh_extension_def fnh_extension = {
    FNH_EXTENSION_HEAD, "lookup", "1.0.0", NULL, NULL, NULL, bindings, NULL};
