/* fdlimit.h: the process's open-file limit: raised at start-up (every
 * connection, timer status file and extension socket is a file descriptor)
 * and the one log line for running out of descriptors. */
#ifndef FNH_FDLIMIT_H
#define FNH_FDLIMIT_H

/* Raises the soft RLIMIT_NOFILE to the hard limit. Call once from main at
 * start-up; failure is harmless (the limit stays as it was). */
void fnh__fdlimit_raise(void);

/* Logs, the first time only, that the host ran out of file descriptors
 * (accept or open gave EMFILE/ENFILE), with the current limit and how to
 * raise it. Later calls do nothing, so a busy accept loop may call it on
 * every failure. Any thread. */
void fnh__log_emfile_once(void);

/* fd was just opened (an accepted connection): logs the line above, once,
 * when it is within a few descriptors of the limit. libuv refuses the
 * connections it cannot accept on its own, so this is the server's only
 * sign. Any thread; cheap. */
void fnh__fdlimit_check(int fd);

#endif
