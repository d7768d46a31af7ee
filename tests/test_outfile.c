/* The CLI's output-writing routine (src/cli/outfile.c, docs/cli.md "Output
 * files"), driven directly: all-or-nothing commits when a later rename
 * fails, no temporary left behind, a FIFO written through and kept, two
 * names of one file refused, a directory refused, a replaced file keeping
 * its mode, and a failed check creating nothing. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "../src/cli/outfile.c"

static char dir[256];

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void put(const char *name, const char *text)
{
    char p[512];
    FILE *f;
    path_of(p, sizeof p, name);
    f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int has(const char *name, const char *text)
{
    char p[512], got[64];
    size_t n;
    FILE *f;
    path_of(p, sizeof p, name);
    if (!(f = fopen(p, "r")))
        return 0;
    n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    got[n] = 0;
    return !strcmp(got, text);
}

/* entries of dir whose name contains ".tmp." */
static int temporaries(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

static void test_later_rename_fails(void)
{
    char a[512], b[512], c[512], inner[512], err[256];
    cli_out o[3];
    put("a.npy", "OLD-A");
    put("c.npy", "OLD-C");
    path_of(a, sizeof a, "a.npy");
    path_of(b, sizeof b, "b.npy");
    path_of(c, sizeof c, "c.npy");
    CHECK(cli_out_open(&o[0], a, err, sizeof err) == 0, "open a: %s", err);
    CHECK(cli_out_open(&o[1], c, err, sizeof err) == 0, "open c: %s", err);
    CHECK(cli_out_open(&o[2], b, err, sizeof err) == 0, "open b: %s", err);
    fputs("NEW-A", o[0].f);
    fputs("NEW-C", o[1].f);
    fputs("NEW-B", o[2].f);
    /* b becomes a non-empty folder after the check: its rename fails after
     * a's and c's succeeded */
    mkdir(b, 0777);
    path_of(inner, sizeof inner, "b.npy/x");
    put("b.npy/x", "x");
    CHECK(cli_out_commit(o, 3, err, sizeof err) != 0, "commit should fail");
    CHECK(has("a.npy", "OLD-A"), "a was not put back");
    CHECK(has("c.npy", "OLD-C"), "c was not put back");
    CHECK(temporaries() == 0, "%d temporaries left", temporaries());
    unlink(inner);
    rmdir(b);
    /* and a new file that did not exist before is removed again */
    unlink(c);
    CHECK(cli_out_open(&o[0], a, err, sizeof err) == 0 && cli_out_open(&o[1], c, err, sizeof err) == 0 &&
              cli_out_open(&o[2], b, err, sizeof err) == 0,
          "reopen");
    mkdir(b, 0777);
    put("b.npy/x", "x");
    CHECK(cli_out_commit(o, 3, err, sizeof err) != 0, "commit should fail (2)");
    CHECK(access(c, F_OK) != 0, "a new file survived a failed commit");
    CHECK(has("a.npy", "OLD-A"), "a changed (2)");
    CHECK(temporaries() == 0, "temporaries left (2)");
    unlink(inner);
    rmdir(b);
}

static void test_success_and_mode(void)
{
    char a[512], err[256];
    cli_out o;
    struct stat st;
    put("m.npy", "OLD");
    path_of(a, sizeof a, "m.npy");
    chmod(a, 0640);
    CHECK(cli_out_open(&o, a, err, sizeof err) == 0, "open: %s", err);
    fputs("NEW", o.f);
    CHECK(cli_out_commit(&o, 1, err, sizeof err) == 0, "commit: %s", err);
    CHECK(has("m.npy", "NEW"), "content");
    CHECK(stat(a, &st) == 0 && (st.st_mode & 0777) == 0640, "mode not kept: %o", (unsigned)(st.st_mode & 0777));
    CHECK(temporaries() == 0, "temporaries left");
    /* abort leaves the old file */
    CHECK(cli_out_open(&o, a, err, sizeof err) == 0, "open 2");
    fputs("NEWER", o.f);
    cli_out_abort(&o, 1);
    CHECK(has("m.npy", "NEW"), "abort changed the file");
    CHECK(temporaries() == 0, "abort left a temporary");
}

static void test_checks(void)
{
    char a[512], a2[512], sub[512], missing[512], err[256];
    const char *two[2];
    path_of(a, sizeof a, "x.npy");
    path_of(a2, sizeof a2, "./x.npy");
    snprintf(a2, sizeof a2, "%s/./x.npy", dir);
    two[0] = a, two[1] = a2;
    CHECK(cli_out_check_all(two, 2, err, sizeof err) != 0 && strstr(err, "same file"), "two names: '%s'", err);
    CHECK(access(a, F_OK) != 0, "the check created the file");
    path_of(sub, sizeof sub, "sub");
    mkdir(sub, 0777);
    CHECK(cli_out_check(sub, err, sizeof err) != 0 && strstr(err, "directory"), "directory: '%s'", err);
    path_of(missing, sizeof missing, "nope/y.npy");
    CHECK(cli_out_check(missing, err, sizeof err) != 0, "missing folder accepted");
    CHECK(cli_out_check("", err, sizeof err) != 0, "empty name accepted");
    CHECK(temporaries() == 0, "a check left a probe file");
    rmdir(sub);
}

static void test_fifo(void)
{
    char p[512], err[256];
    struct stat st;
    cli_out o;
    int rd;
    char got[16];
    path_of(p, sizeof p, "fifo");
    if (mkfifo(p, 0600) != 0) {
        CHECK(1, "no FIFO here");
        return;
    }
    rd = open(p, O_RDONLY | O_NONBLOCK); /* a reader, so that the writer's open does not block */
    CHECK(rd >= 0, "reader");
    CHECK(cli_out_open(&o, p, err, sizeof err) == 0 && o.tmp == 0, "FIFO opened directly: %s", err);
    fputs("DATA", o.f);
    CHECK(cli_out_commit(&o, 1, err, sizeof err) == 0, "commit: %s", err);
    CHECK(read(rd, got, 4) == 4 && !memcmp(got, "DATA", 4), "FIFO content");
    CHECK(stat(p, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO was replaced");
    close(rd);
    unlink(p);
}

int main(void)
{
    int rc;
    char tmpl[] = "/tmp/dpo_outfile_XXXXXX";
    if (!mkdtemp(tmpl)) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    snprintf(dir, sizeof dir, "%s", tmpl);
    RUN(test_later_rename_fails);
    RUN(test_success_and_mode);
    RUN(test_checks);
    RUN(test_fifo);
    rc = chk_summary();
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) {
            /* nothing to do */
        }
    }
    return rc;
}
