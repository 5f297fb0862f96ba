/* libuv_closes.c: linked into ThreadSanitizer builds only (make check-tsan).
 *
 * libuv closes file descriptors with syscall(SYS_close, fd), which
 * ThreadSanitizer does not intercept: it never sees libuv close the pipes of a
 * spawned child or an accepted socket. When another thread's open() then gets
 * the same number, ThreadSanitizer takes the descriptor for one still open
 * and reports a data race between that open() and the pipe2() or accept4()
 * that created the old one, which is not a race. This definition of syscall()
 * comes before libc's for libuv and sends SYS_close through close(), which
 * ThreadSanitizer intercepts; every other call goes on to libc unchanged. */
#include <dlfcn.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef long (*syscall_fn)(long, ...);

long syscall(long number, ...)
{
    /* libc's syscall() takes six arguments whatever the call; reading more
     * than the caller passed reads a spare register or a word of the caller's
     * stack, which the kernel then ignores, as it does libc's */
    long a[6];
    va_list ap;
    va_start(ap, number);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_close)
        return close((int)a[0]);
    static syscall_fn libc_syscall;
    syscall_fn next = __atomic_load_n(&libc_syscall, __ATOMIC_ACQUIRE);
    if (!next) {
        next = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
        __atomic_store_n(&libc_syscall, next, __ATOMIC_RELEASE);
    }
    return next(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
