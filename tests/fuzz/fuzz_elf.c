/* fuzz_elf.c: libFuzzer target for the ELF probe (core/elf_probe.c), the
 * check every extension and native function .so passes before dlopen may
 * run any of its code. The input is the file's bytes: the probe must answer
 * (found, absent, refused with a phrase) without reading outside them, for
 * the descriptors both loaders look up and an entry point. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elf_probe.h"
#include "fnhost/extension.h"
#include "fnhost/function.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so ASan sees any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    fnh__elf_symbol sym;
    const char *why = NULL;
    static const char *const names[] = {"fnh_extension", "fnh_function_abi", "run", ""};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        int rc = fnh__elf_probe(buf, size, names[i], &sym, &why);
        if (rc == 0 && sym.bytes && sym.size && (sym.bytes < buf || sym.bytes + sym.size > buf + size))
            abort(); /* the symbol's bytes must lie inside the file */
        if (rc && rc != -ENOENT && (!why || strncmp(why, "it ", 3) != 0))
            abort(); /* every refusal comes with its phrase */
    }
    char text[256];
    fnh__abi_head head;
    fnh__elf_descriptor(buf, size, "fnh_extension", 64, _Alignof(fnh_extension_def), &head, text,
                        sizeof text);
    fnh__elf_descriptor(buf, size, "fnh_function_abi", 12, _Alignof(fnh_function_module), &head,
                        text, sizeof text);
    free(buf);
    return 0;
}
