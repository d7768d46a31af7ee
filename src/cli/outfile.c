/* The one routine that writes every file of the command-line tool
 * (docs/cli.md, "Output files").
 *
 *   - A regular target (or a name that does not exist yet) is written to a
 *     temporary created beside it with O_CREAT|O_EXCL and a random name
 *     (mkstemp: never follows a planted link), flushed, fsync'd and renamed
 *     over the target at the end.  A failure removes the temporary and
 *     leaves the target exactly as it was.
 *   - A character device or a FIFO (/dev/null, /dev/stdout, a pipe) is
 *     written directly: it is never replaced by a regular file.  Any other
 *     kind (directory, socket, block device) is refused.
 *   - Several outputs of one command are checked together before any work
 *     (cli_out_check_all: each one writable, no two naming the same file) and
 *     committed together (cli_out_commit): all temporaries are complete
 *     before the first rename, and a rename that fails puts back the files
 *     already replaced, so a failure leaves every pre-existing file as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include "cli.h"

static void out_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* malloc'd "path.tmp.XXXXXX" (the mkstemp template beside path). */
static char *tmp_template(const char *path)
{
    size_t n = strlen(path);
    char *t = (char *)malloc(n + 12);
    if (t) {
        memcpy(t, path, n);
        memcpy(t + n, ".tmp.XXXXXX", 12);
    }
    return t;
}

/* 1 for a target written directly (character device, FIFO), 0 for a
 * regular file or a missing name, -1 (err filled) for anything else. */
static int target_kind(const char *path, struct stat *st, int *exists, char *err, size_t errlen)
{
    *exists = 0;
    if (!path || !*path) {
        out_err(err, errlen, "empty output file name");
        return -1;
    }
    if (stat(path, st) != 0) {
        if (errno == ENOENT)
            return 0;
        out_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    *exists = 1;
    if (S_ISREG(st->st_mode))
        return 0;
    if (S_ISCHR(st->st_mode) || S_ISFIFO(st->st_mode))
        return 1;
    out_err(err, errlen, "%s: %s", path, S_ISDIR(st->st_mode) ? "is a directory" : "not a regular file, device or FIFO");
    return -1;
}

int cli_out_check(const char *path, char *err, size_t errlen)
{
    struct stat st;
    int exists, kind = target_kind(path, &st, &exists, err, errlen), fd;
    char *t;
    if (kind < 0)
        return -1;
    if (kind == 1) {
        if (access(path, W_OK) != 0) {
            out_err(err, errlen, "%s: cannot write: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    /* a file can be created beside it: try, then remove the probe */
    if (!(t = tmp_template(path))) {
        out_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    fd = mkstemp(t);
    if (fd < 0) {
        out_err(err, errlen, "%s: cannot create a file there: %s", path, strerror(errno));
        free(t);
        return -1;
    }
    close(fd);
    unlink(t);
    free(t);
    return 0;
}

/* 1 when a and b name one file: the same existing file, or the same name
 * in the same folder. */
static int same_target(const char *a, const char *b)
{
    struct stat sa, sb;
    const char *ba, *bb;
    char *da, *db;
    int same = 0;
    if (!strcmp(a, b))
        return 1;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    ba = strrchr(a, '/');
    bb = strrchr(b, '/');
    ba = ba ? ba + 1 : a;
    bb = bb ? bb + 1 : b;
    if (strcmp(ba, bb) != 0)
        return 0;
    da = (char *)malloc((size_t)(ba - a) + 2);
    db = (char *)malloc((size_t)(bb - b) + 2);
    if (da && db) {
        if (ba == a)
            strcpy(da, ".");
        else
            memcpy(da, a, (size_t)(ba - a)), da[ba - a] = 0;
        if (bb == b)
            strcpy(db, ".");
        else
            memcpy(db, b, (size_t)(bb - b)), db[bb - b] = 0;
        same = stat(da, &sa) == 0 && stat(db, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    }
    free(da);
    free(db);
    return same;
}

int cli_out_check_all(const char *const *paths, size_t n, char *err, size_t errlen)
{
    size_t i, j;
    for (i = 0; i < n; i++) {
        struct stat si, sj;
        if (!paths[i])
            continue;
        if (cli_out_check(paths[i], err, errlen))
            return -1;
        for (j = 0; j < i; j++) {
            if (!paths[j])
                continue;
            if (same_target(paths[i], paths[j]) &&
                !(stat(paths[i], &si) == 0 && stat(paths[j], &sj) == 0 && !S_ISREG(si.st_mode))) {
                out_err(err, errlen, "'%s' and '%s' name the same file", paths[j], paths[i]);
                return -1;
            }
        }
    }
    return 0;
}

int cli_out_open(cli_out *o, const char *path, char *err, size_t errlen)
{
    struct stat st;
    int exists, kind, fd;
    mode_t mask, mode;
    memset(o, 0, sizeof *o);
    o->path = path;
    kind = target_kind(path, &st, &exists, err, errlen);
    if (kind < 0)
        return -1;
    if (kind == 1) {
        fd = open(path, O_WRONLY | O_NOCTTY);
        if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
            out_err(err, errlen, "%s: cannot write: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        return 0;
    }
    if (!(o->tmp = tmp_template(path))) {
        out_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    fd = mkstemp(o->tmp);
    if (fd < 0) {
        out_err(err, errlen, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(o->tmp);
        o->tmp = 0;
        return -1;
    }
    /* mkstemp makes the file 0600: an existing target keeps its mode, a new
     * file gets the usual 0666 & ~umask */
    mask = umask(0);
    umask(mask);
    mode = exists ? (st.st_mode & 07777) : (mode_t)(0666 & ~mask);
    if (fchmod(fd, mode) != 0) {
        /* not fatal: the file stays private */
    }
    if (!(o->f = fdopen(fd, "wb"))) {
        out_err(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        close(fd);
        unlink(o->tmp);
        free(o->tmp);
        o->tmp = 0;
        return -1;
    }
    return 0;
}

void cli_out_abort(cli_out *o, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (o[i].f)
            fclose(o[i].f);
        o[i].f = 0;
        if (o[i].tmp) {
            unlink(o[i].tmp);
            free(o[i].tmp);
            o[i].tmp = 0;
        }
    }
}

/* Flushes and closes one output (fsync for a temporary). */
static int out_close(cli_out *o, char *err, size_t errlen)
{
    int bad;
    FILE *f = o->f;
    o->f = 0;
    errno = 0;
    bad = fflush(f) != 0 || ferror(f);
    if (!bad && o->tmp && fsync(fileno(f)) != 0)
        bad = 1;
    if (fclose(f) != 0)
        bad = 1;
    if (bad)
        out_err(err, errlen, "%s: write failed: %s", o->path, errno ? strerror(errno) : "I/O error");
    return bad ? -1 : 0;
}

int cli_out_commit(cli_out *o, size_t n, char *err, size_t errlen)
{
    size_t i, k;
    char **backup, *existed;
    for (i = 0; i < n; i++)
        if (out_close(&o[i], err, errlen)) {
            cli_out_abort(o, n);
            return -1;
        }
    /* with several targets, keep a second name (hard link) of every
     * existing one so that a failed later rename can put it back */
    backup = n > 1 ? (char **)calloc(n, sizeof *backup) : 0;
    existed = n > 1 ? (char *)calloc(n, 1) : 0;
    if (n > 1 && (!backup || !existed)) {
        out_err(err, errlen, "%s: out of memory", o[0].path);
        free(backup);
        free(existed);
        cli_out_abort(o, n);
        return -1;
    }
    for (i = 0; backup && i < n; i++) {
        struct stat st;
        int fd;
        if (!o[i].tmp || lstat(o[i].path, &st) != 0)
            continue;
        existed[i] = 1;
        if (!(backup[i] = tmp_template(o[i].path)) || (fd = mkstemp(backup[i])) < 0) {
            out_err(err, errlen, "%s: cannot keep a copy of the old file: %s", o[i].path, strerror(errno));
            goto undo_links;
        }
        close(fd);
        /* link the old file under the fresh name just reserved (link()
         * never replaces: the name is freed first, and a name planted in
         * between makes link fail) */
        unlink(backup[i]);
        if (link(o[i].path, backup[i]) != 0) {
            /* no hard links here (some file systems): go on without the
             * copy; only a rename failing after this one could not put
             * this file back (docs/cli.md) */
            free(backup[i]);
            backup[i] = 0;
        }
    }
    for (i = 0; i < n; i++) {
        if (!o[i].tmp)
            continue;
        if (rename(o[i].tmp, o[i].path) != 0) {
            out_err(err, errlen, "%s: cannot rename the temporary into place: %s", o[i].path, strerror(errno));
            for (k = 0; k < i; k++) {
                if (!o[k].tmp)
                    continue;
                if (backup && backup[k]) {
                    rename(backup[k], o[k].path);
                    free(backup[k]);
                    backup[k] = 0;
                } else if (!existed || !existed[k]) {
                    unlink(o[k].path); /* it did not exist before */
                }
                free(o[k].tmp);
                o[k].tmp = 0;
            }
            goto undo_links;
        }
    }
    for (i = 0; i < n; i++) {
        if (backup && backup[i]) {
            unlink(backup[i]);
            free(backup[i]);
        }
        free(o[i].tmp);
        o[i].tmp = 0;
    }
    free(backup);
    free(existed);
    return 0;
undo_links:
    for (i = 0; backup && i < n; i++)
        if (backup[i]) {
            unlink(backup[i]);
            free(backup[i]);
        }
    free(backup);
    free(existed);
    cli_out_abort(o, n);
    return -1;
}
