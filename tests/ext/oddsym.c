/* oddsym.c: fnh_extension is descriptor-sized and its first words claim
 * this host's ABI, but it sits at an odd address (defined in assembly one
 * byte past an aligned boundary); reading it as a descriptor would be a
 * misaligned access, so the host must refuse it. */
#include <fnhost/extension.h>

__asm__(".section .rodata\n"
        ".balign 16\n"
        ".byte 0\n"
        ".globl fnh_extension\n"
        ".type fnh_extension, %object\n"
        ".size fnh_extension, 72\n"
        "fnh_extension:\n"
        ".long 1, 0, 72\n"
        ".fill 60, 1, 0\n"
        ".previous\n");
