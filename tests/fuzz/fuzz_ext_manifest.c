/* fuzz_ext_manifest.c: libFuzzer target for the extension manifest registry
 * (extension.c). The input is the app's own extensions/extensions.json, read
 * after a fixed manifest named by FNHOST_EXTENSIONS_PATH; the registry is
 * queried and an app using extension types is loaded against it. Nothing is
 * dlopen'ed. */

/* The descriptor check of the .so files themselves is fuzz_elf.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extension.h"
#include "fuzz_common.h"

static const char *g_root;

static void fn_json(const char *name, const char *type, const char *dir)
{
    char rel[128], text[512];
    snprintf(rel, sizeof rel, "app/%s/function.json", name);
    snprintf(text, sizeof text,
             "{\"bindings\": [{\"type\": \"%s\", \"direction\": \"%s\", \"name\": \"v\"}%s], "
             "\"scriptFile\": \"%s.so\"}",
             type, dir,
             strcmp(dir, "in") == 0 && strstr(type, "Trigger") ? ""
                                                               : ", {\"type\": \"httpTrigger\", "
                                                                 "\"direction\": \"in\", "
                                                                 "\"name\": \"req\"}",
             name);
    fuzz_write_str(rel, text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_write_str("app/host.json", "{\"version\": \"2.0\"}");
    fn_json("orders", "queueTrigger", "in");
    fn_json("store", "queue", "out");
    fn_json("blobs", "blobTrigger", "in");
    fn_json("custom", "customTrigger", "in");
    fn_json("thing", "thing", "in");
    fuzz_write_str("fixed/extensions.json",
                   "{\"extensions\": [{\"name\": \"queue\", \"file\": \"fnh_queue.so\", "
                   "\"types\": [\"queueTrigger\", \"queue\"], \"commands\": [\"queue\"]}, "
                   "{\"name\": \"thing\", \"file\": \"/nonexistent/fnh_thing.so\", \"types\": "
                   "[\"thing\"]}]}");
    setenv("FNHOST_EXTENSIONS_PATH", fuzz_path("fixed"), 1);
    size_t n = strlen(fuzz_path("app"));
    g_root = fuzz_cstr((const uint8_t *)fuzz_path("app"), n);
    fuzz_env_snapshot();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write("app/extensions/extensions.json", data, size);
    /* the loader reads the manifests (its problems become app errors), checks
     * every binding type against them and binds the built-in ones */
    fuzz_app_load(g_root);
    return 0;
}
