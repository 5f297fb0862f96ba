/* test-elf-probe.c: the descriptor check on file images (elf_probe.c): the
 * fixture extensions built beside this binary (<dir>/ext/NAME.so) are read
 * and judged as the loader judges them, every truncation of a good file is
 * refused, and mutated images never read outside their buffer (ASan). */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_probe.h"
#include "fnhost/extension.h"
#include "unit.h"
#include "util.h"

#define DESC_MIN offsetof(fnh_extension_def, commands)
#define ALIGN _Alignof(fnh_extension_def)

static char g_dir[4096];

static int load(const char *name, char **data, size_t *len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ext/%s.so", g_dir, name);
    int rc = fnh__read_file(path, data, len);
    if (rc)
        printf("FAIL %s: cannot read %s (build it: make)\n", unit__current, path);
    return rc;
}

/* fnh__elf_descriptor on an exactly sized copy, so ASan sees any overread. */
static int check_copy(const char *data, size_t len, fnh__abi_head *head, char *why, size_t n)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, data, len);
    int rc = fnh__elf_descriptor(copy, len, "fnh_extension", DESC_MIN, ALIGN, head, why, n);
    free(copy);
    return rc;
}

static void good_extension(void)
{
    char *data;
    size_t len;
    if (load("ticktrig", &data, &len)) {
        unit__failed_checks++;
        return;
    }
    fnh__elf_symbol sym;
    const char *why = NULL;
    CHECK(fnh__elf_probe(data, len, "fnh_extension", &sym, &why) == 0);
    CHECK(sym.type == STT_OBJECT);
    CHECK(sym.size == sizeof(fnh_extension_def));
    CHECK(sym.bytes != NULL);
    CHECK(fnh__elf_probe(data, len, "fnh_extensio", &sym, &why) == -ENOENT);
    CHECK(fnh__elf_probe(data, len, "fnh_extension_", &sym, &why) == -ENOENT);
    fnh__abi_head head;
    char text[256];
    CHECK(check_copy(data, len, &head, text, sizeof text) == 0);
    CHECK(head.abi_major == FNH_ABI_MAJOR && head.abi_minor == FNH_ABI_MINOR);
    CHECK(head.size == sizeof(fnh_extension_def));
    free(data);
}

static void refusals(void)
{
    static const struct {
        const char *file;
        int rc;
        const char *why;
    } cases[] = {
        {"noext", -ENOENT, "is not exported"},
        {"fnsym", -EINVAL, "is a function, not a data object"},
        {"tinysym", -EINVAL, "is 3 bytes, smaller than the descriptor (at least 64 bytes)"},
        {"oddsym", -EINVAL, "is not aligned to 8 bytes as the descriptor must be"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *data;
        size_t len;
        if (load(cases[i].file, &data, &len)) {
            unit__failed_checks++;
            continue;
        }
        fnh__abi_head head;
        char why[256] = "";
        CHECK(check_copy(data, len, &head, why, sizeof why) == cases[i].rc);
        CHECK_STR(why, cases[i].why);
        free(data);
    }
    fnh__abi_head head;
    char why[256];
    CHECK(check_copy("not an ELF file", 15, &head, why, sizeof why) == -ENOEXEC);
    CHECK_STR(why, "it is not an ELF file (invalid ELF header)");
    CHECK(check_copy("", 0, &head, why, sizeof why) == -ENOEXEC);
}

static void every_truncation_is_refused(void)
{
    char *data;
    size_t len;
    if (load("ticktrig", &data, &len)) {
        unit__failed_checks++;
        return;
    }
    int accepted = 0, truncated = 0;
    for (size_t n = 0; n < len; n += 13) {
        fnh__abi_head head;
        char why[256] = "";
        int rc = check_copy(data, n, &head, why, sizeof why);
        accepted += rc == 0;
        truncated += rc == -ENOEXEC && strncmp(why, "it is truncated: ", 17) == 0;
    }
    CHECK(accepted == 0);
    CHECK(truncated > 0);
    free(data);
}

/* Random byte changes in the headers and tables: whatever the answer, the
 * probe stays inside the buffer (checked by ASan in make check-asan). */
static void mutations_stay_in_bounds(void)
{
    char *data;
    size_t len;
    if (load("ticktrig", &data, &len)) {
        unit__failed_checks++;
        return;
    }
    char *copy = malloc(len);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 4000; i++) {
        memcpy(copy, data, len);
        for (int k = 0; k < 1 + i % 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* the headers (start), the section header table (end), anywhere */
            size_t r = (size_t)(x >> 8), at = i % 3 == 0   ? r % 1024
                                              : i % 3 == 1 ? len - 1 - r % 2048
                                                           : r % len;
            copy[at] = (char)(x & 0xff);
        }
        fnh__abi_head head;
        char why[256];
        fnh__elf_descriptor(copy, len, "fnh_extension", DESC_MIN, ALIGN, &head, why, sizeof why);
    }
    free(copy);
    free(data);
}

int main(int argc, char **argv)
{
    (void)argc;
    snprintf(g_dir, sizeof g_dir, "%s", argv[0]);
    char *slash = strrchr(g_dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(g_dir, sizeof g_dir, ".");
    UNIT_RUN(good_extension);
    UNIT_RUN(refusals);
    UNIT_RUN(every_truncation_is_refused);
    UNIT_RUN(mutations_stay_in_bounds);
    UNIT_END();
}
