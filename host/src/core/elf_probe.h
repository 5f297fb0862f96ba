/* elf_probe.h: reads a shared object's file image without loading it, so a
 * plugin's descriptor is checked before any of its code (constructors) runs:
 * is it a complete ELF shared object for this machine, and what are the
 * first bytes of a defined dynamic data symbol. The probes take a byte
 * buffer, do no I/O and allocate nothing (fuzz them); any thread. */
#ifndef FNH_ELF_PROBE_H
#define FNH_ELF_PROBE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fnh__elf_symbol {
    unsigned type;              /* STT_OBJECT, STT_FUNC, ... */
    uint64_t size;              /* st_size in bytes */
    uint64_t addr;              /* st_value: the address relative to the load base */
    const unsigned char *bytes; /* its size bytes inside buf, or NULL when the file
                                   holds no initial value (.bss) */
} fnh__elf_symbol;

/* Checks that buf[0, len) is a complete ELF shared object for this machine
 * (headers, every loadable segment and the section headers inside the
 * buffer) and looks up the defined global dynamic symbol name. Returns
 *   0        found: *sym filled;
 *   -ENOENT  the object exports no such symbol;
 *   -ENOEXEC not an ELF shared object for this machine, truncated or
 *            malformed: *why says which ("it is truncated: ...");
 *   -ENOTSUP no section headers, so no symbol table to search (*why).
 * *why is a static phrase that starts with "it ". */
int fnh__elf_probe(const void *buf, size_t len, const char *name, fnh__elf_symbol *sym,
                   const char **why);

/* The header every fnhost descriptor starts with (FNH_EXTENSION_HEAD, the
 * first members of fnh_function_module). */
typedef struct fnh__abi_head {
    uint32_t abi_major, abi_minor, size;
} fnh__abi_head;

/* The descriptor check on a file image: fnh__elf_probe for symbol, then the
 * symbol must be a data object of at least min_size bytes, aligned to align
 * and stored in the file; its header is copied to *head. Returns 0, the
 * probe's errors, or -EINVAL when the symbol is no descriptor. On error, why
 * (whylen bytes) receives a phrase: "it is truncated: ..." or, for -EINVAL,
 * one to follow the symbol's name: "is a function, not a data object". */
int fnh__elf_descriptor(const void *buf, size_t len, const char *symbol, size_t min_size,
                        size_t align, fnh__abi_head *head, char *why, size_t whylen);

/* The same check for the file at path (read whole). A file that cannot be
 * read gives -EIO. */
int fnh__elf_descriptor_file(const char *path, const char *symbol, size_t min_size,
                             size_t align, fnh__abi_head *head, char *why, size_t whylen);

/* After dlopen: checks that p (what dlsym returned) is a data object of at
 * least min_size bytes aligned to align, from the loaded symbol table.
 * Returns 0 (also when the symbol table cannot tell) with *size set to the
 * symbol's size (SIZE_MAX when unknown), or -EINVAL with a phrase in why as
 * above. */
int fnh__elf_loaded_check(const void *p, size_t min_size, size_t align, size_t *size, char *why,
                          size_t whylen);

#endif
