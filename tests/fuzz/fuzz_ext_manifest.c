/* fuzz_ext_manifest.c: libFuzzer target for the extension manifest registry
 * (extension.c). The input is the app's own extensions/extensions.json, read
 * after a fixed manifest named by FNHOST_EXTENSIONS_PATH; the registry is
 * queried and an app using extension types is loaded against it. Nothing is
 * dlopen'ed. */

/* ELF probe: the descriptor checks of a .so (load_so) run only after
 * dlopen, which must never see fuzzer bytes. Once extension.c checks the
 * file first with fnh__elf_probe(buf, len, ...), add tests/fuzz/fuzz_elf.c
 * calling it on the raw input, with tests/fuzz/corpus/elf/ seeded from the
 * extensions built in build-fuzz/ (see README.md, "Adding a target"). */
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
    fnh__strlist errors = {0};
    fnh__ext_registry_load(g_root, &errors);
    size_t len = 0;
    for (size_t i = 0; i < errors.len; i++)
        len += strlen(errors.items[i]);
    static const char *const types[] = {"queueTrigger", "queue", "blobTrigger", "blob",
                                        "customTrigger", "thing", "httpTrigger", ""};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        len += (size_t)fnh__ext_provides(types[i]);
    len += strlen(fnh__ext_installed_types("httpTrigger, http, timerTrigger"));
    (void)len;
    fuzz_app_load(g_root);
    fnh__ext_registry_free();
    fnh__strlist_free(&errors);
    return 0;
}
