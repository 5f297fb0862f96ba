/* shadow.h: private copies of the shared objects the host loads, so a
 * rebuilt .so loads as new code and a build never rewrites a mapped file
 * (shadow.c). Main thread only. */
#ifndef FNH_SHADOW_H
#define FNH_SHADOW_H

/* Host only, at start-up: makes the private shadow folder (under $TMPDIR or
 * /tmp, removing those of hosts that died without removing theirs) that
 * later copies go to. 0 or -errno (then files load from where they are). */
int fnh__shadow_init(void);
/* Deletes the shadow folder and its copies (at exit, after every user
 * released its copy). */
void fnh__shadow_cleanup(void);
/* The shadow copy of the file at path (borrowed), made if needed, with one
 * more user: a malloc'd path the caller owns and gives back to
 * fnh__shadow_release (then frees). NULL when shadowing is off (a child
 * process, a command but start) or the copy cannot be made: load path. */
char *fnh__shadow_acquire(const char *path);
/* One user fewer for copy (a path fnh__shadow_acquire returned; borrowed,
 * NULL ignored); the last one deletes the file (a mapping of it stays). */
void fnh__shadow_release(const char *copy);

#endif
