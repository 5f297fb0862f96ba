/* elf_probe.c: looks inside a shared object's bytes without loading it:
 * header, program and section headers bounds-checked against the buffer,
 * the dynamic symbol table searched by name, the symbol's initial bytes
 * found through the loadable segment that holds them. Also the same checks
 * on a loaded symbol through dladdr1. */
#include "elf_probe.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#if __SIZEOF_POINTER__ == 8
#define HOST_CLASS ELFCLASS64
#else
#define HOST_CLASS ELFCLASS32
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA ELFDATA2LSB
#else
#define HOST_DATA ELFDATA2MSB
#endif
#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__i386__)
#define HOST_MACHINE EM_386
#elif defined(__arm__)
#define HOST_MACHINE EM_ARM
#elif defined(__riscv)
#define HOST_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define HOST_MACHINE EM_PPC64
#elif defined(__s390x__)
#define HOST_MACHINE EM_S390
#endif

/* 1 when [off, off + n) lies inside a buffer of len bytes (no overflow). */
static int inside(uint64_t off, uint64_t n, size_t len)
{
    return off <= len && n <= len - off;
}

static int fail(const char **why, const char *text, int rc)
{
    *why = text;
    return rc;
}

static ElfW(Phdr) phdr_at(const unsigned char *p, const ElfW(Ehdr) *eh, size_t i)
{
    ElfW(Phdr) ph;
    memcpy(&ph, p + eh->e_phoff + i * sizeof ph, sizeof ph);
    return ph;
}

static ElfW(Shdr) shdr_at(const unsigned char *p, const ElfW(Ehdr) *eh, size_t i)
{
    ElfW(Shdr) sh;
    memcpy(&sh, p + eh->e_shoff + i * sizeof sh, sizeof sh);
    return sh;
}

/* The ELF header, into *eh: a shared object for this machine. */
static int check_header(const unsigned char *p, size_t len, ElfW(Ehdr) *eh, const char **why)
{
    if (len < sizeof *eh || memcmp(p, ELFMAG, SELFMAG) != 0)
        return fail(why, "it is not an ELF file (invalid ELF header)", -ENOEXEC);
    memcpy(eh, p, sizeof *eh);
    if (eh->e_ident[EI_CLASS] != HOST_CLASS)
        return fail(why, "it is built for another word size (ELF class)", -ENOEXEC);
    if (eh->e_ident[EI_DATA] != HOST_DATA)
        return fail(why, "it is built for another byte order", -ENOEXEC);
    if (eh->e_type != ET_DYN)
        return fail(why, "it is not a shared object (link it with -shared)", -ENOEXEC);
#ifdef HOST_MACHINE
    if (eh->e_machine != HOST_MACHINE)
        return fail(why, "it is built for another processor architecture", -ENOEXEC);
#endif
    return 0;
}

/* The program headers, and every loadable segment, lie in the file: mapping
 * past its end is what makes dlopen die of SIGBUS. */
static int check_segments(const unsigned char *p, size_t len, const ElfW(Ehdr) *eh,
                          const char **why)
{
    if (eh->e_phentsize != sizeof(ElfW(Phdr)) || eh->e_phnum == 0)
        return fail(why, "it has a malformed program header table", -ENOEXEC);
    if (!inside(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(ElfW(Phdr)), len))
        return fail(why, "it is truncated: its program headers end past the end of the file",
                    -ENOEXEC);
    for (size_t i = 0; i < eh->e_phnum; i++) {
        ElfW(Phdr) ph = phdr_at(p, eh, i);
        if (ph.p_type == PT_LOAD && !inside(ph.p_offset, ph.p_filesz, len))
            return fail(why, "it is truncated: a loadable segment ends past the end of the file",
                        -ENOEXEC);
    }
    return 0;
}

/* The section header table is there and lies in the file. */
static int check_sections(size_t len, const ElfW(Ehdr) *eh, const char **why)
{
    if (eh->e_shoff == 0 || eh->e_shnum == 0)
        return fail(why, "it has no section headers (was it stripped with sstrip?)", -ENOTSUP);
    if (eh->e_shentsize != sizeof(ElfW(Shdr)))
        return fail(why, "it has a malformed section header table", -ENOEXEC);
    if (!inside(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(ElfW(Shdr)), len))
        return fail(why, "it is truncated: its section headers end past the end of the file",
                    -ENOEXEC);
    return 0;
}

/* The first dynamic symbol table, into *sym, and its string table, into
 * *str, both checked to lie in the file. -ENOENT when there is none. */
static int find_dynsym(const unsigned char *p, size_t len, const ElfW(Ehdr) *eh,
                       ElfW(Shdr) *sym, ElfW(Shdr) *str, const char **why)
{
    for (size_t i = 0; i < eh->e_shnum; i++) {
        *sym = shdr_at(p, eh, i);
        if (sym->sh_type != SHT_DYNSYM)
            continue;
        if (sym->sh_entsize != sizeof(ElfW(Sym)) || sym->sh_link >= eh->e_shnum ||
            !inside(sym->sh_offset, sym->sh_size, len))
            return fail(why, "it has a malformed dynamic symbol table", -ENOEXEC);
        *str = shdr_at(p, eh, sym->sh_link);
        if (str->sh_type != SHT_STRTAB || !inside(str->sh_offset, str->sh_size, len))
            return fail(why, "it has a malformed dynamic string table", -ENOEXEC);
        return 0;
    }
    return -ENOENT;
}

/* The file bytes of the initial value of s: inside the loadable segment
 * that holds all of it, or NULL (zero-filled data, an absolute symbol). */
static const unsigned char *symbol_bytes(const unsigned char *p, const ElfW(Ehdr) *eh,
                                         const ElfW(Sym) *s)
{
    for (size_t j = 0; j < eh->e_phnum && s->st_shndx != SHN_ABS; j++) {
        ElfW(Phdr) ph = phdr_at(p, eh, j);
        if (ph.p_type == PT_LOAD && s->st_value >= ph.p_vaddr &&
            s->st_value - ph.p_vaddr < ph.p_filesz &&
            s->st_size <= ph.p_filesz - (s->st_value - ph.p_vaddr))
            return p + ph.p_offset + (s->st_value - ph.p_vaddr);
    }
    return NULL;
}

/* The defined global, weak or unique symbol called name in the table
 * symtab (names in strtab), into *out; -ENOENT when there is none. */
static int find_symbol(const unsigned char *p, const ElfW(Shdr) *symtab,
                       const ElfW(Shdr) *strtab, const char *name, ElfW(Sym) *out)
{
    const char *strs = (const char *)p + strtab->sh_offset;
    size_t want = strlen(name);
    for (uint64_t k = 0; k < symtab->sh_size / sizeof(ElfW(Sym)); k++) {
        ElfW(Sym) s;
        memcpy(&s, p + symtab->sh_offset + k * sizeof s, sizeof s);
        unsigned bind = ELF64_ST_BIND(s.st_info);
        if (s.st_shndx == SHN_UNDEF || s.st_name >= strtab->sh_size ||
            (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE))
            continue;
        /* the name and its NUL must lie inside the string table */
        if (want >= strtab->sh_size - s.st_name || memcmp(strs + s.st_name, name, want + 1) != 0)
            continue;
        *out = s;
        return 0;
    }
    return -ENOENT;
}

int fnh__elf_probe(const void *buf, size_t len, const char *name, fnh__elf_symbol *sym,
                   const char **why)
{
    const unsigned char *p = buf;
    ElfW(Ehdr) eh;
    ElfW(Shdr) symtab, strtab;
    ElfW(Sym) s;
    int rc = check_header(p, len, &eh, why);
    if (!rc)
        rc = check_segments(p, len, &eh, why);
    if (!rc)
        rc = check_sections(len, &eh, why);
    if (!rc)
        rc = find_dynsym(p, len, &eh, &symtab, &strtab, why); /* none: it exports nothing */
    if (!rc)
        rc = find_symbol(p, &symtab, &strtab, name, &s);
    if (rc)
        return rc;
    sym->type = ELF64_ST_TYPE(s.st_info);
    sym->size = s.st_size;
    sym->addr = s.st_value;
    sym->bytes = symbol_bytes(p, &eh, &s);
    return 0;
}

/* Is a symbol of this type, size and address a descriptor? */
static int check_symbol(unsigned type, uint64_t size, uint64_t addr, size_t min_size,
                        size_t align, char *why, size_t whylen)
{
    if (type == STT_FUNC || type == STT_GNU_IFUNC)
        snprintf(why, whylen, "is a function, not a data object");
    else if (type != STT_OBJECT)
        snprintf(why, whylen, "is not a data object (ELF symbol type %u)", type);
    else if (size < min_size)
        snprintf(why, whylen, "is %llu bytes, smaller than the descriptor (at least %zu bytes)",
                 (unsigned long long)size, min_size);
    else if (align > 1 && addr % align)
        snprintf(why, whylen, "is not aligned to %zu bytes as the descriptor must be", align);
    else
        return 0;
    return -EINVAL;
}

int fnh__elf_descriptor(const void *buf, size_t len, const char *symbol, size_t min_size,
                        size_t align, fnh__abi_head *head, char *why, size_t whylen)
{
    if (min_size < sizeof *head)
        min_size = sizeof *head;
    fnh__elf_symbol s;
    const char *w = "";
    int rc = fnh__elf_probe(buf, len, symbol, &s, &w);
    if (rc) {
        snprintf(why, whylen, "%s", rc == -ENOENT ? "is not exported" : w);
        return rc;
    }
    rc = check_symbol(s.type, s.size, s.addr, min_size, align, why, whylen);
    if (rc)
        return rc;
    if (!s.bytes) {
        snprintf(why, whylen, "has no initial value in the file (it is zero-filled data); "
                              "initialise it");
        return -EINVAL;
    }
    memcpy(head, s.bytes, sizeof *head);
    return 0;
}

int fnh__elf_descriptor_file(const char *path, const char *symbol, size_t min_size,
                             size_t align, fnh__abi_head *head, char *why, size_t whylen)
{
    char *data = NULL;
    size_t len = 0;
    if (fnh__read_file(path, &data, &len)) {
        snprintf(why, whylen, "it cannot be read");
        return -EIO;
    }
    int rc = fnh__elf_descriptor(data, len, symbol, min_size, align, head, why, whylen);
    free(data);
    return rc;
}

int fnh__elf_loaded_check(const void *p, size_t min_size, size_t align, size_t *size, char *why,
                          size_t whylen)
{
    Dl_info info;
    const ElfW(Sym) *s = NULL;
    *size = SIZE_MAX;
    if (!dladdr1(p, &info, (void **)&s, RTLD_DL_SYMENT) || !s || info.dli_saddr != p)
        return 0; /* the loaded tables cannot tell: the file probe has checked */
    *size = s->st_size;
    return check_symbol(ELF64_ST_TYPE(s->st_info), s->st_size, (uintptr_t)p, min_size, align,
                        why, whylen);
}
