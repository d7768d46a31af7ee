/* Every golden vector file vectors/NAME.vec, every case, through the library
 * (the vector evaluator dpo_vecrun_verify of src/tools/vecrun.c, the same
 * code `diffpo verify` runs; docs/vectors.md is the contract).  This is the
 * one place the suite evaluates vectors/; tests/cli_vectors.sh drives the
 * CLI on its own small files.
 *   - no vector files -> failing tests: the suite cannot pass without them;
 *   - the summary must count every case of vectors/ as passed;
 *   - the checker itself: a hand-written case (values exact by hand) passes
 *     and the same case with a wrong expected value fails. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include "diffpo.h"
#include "tools/diffpo_tools.h"
#include "check.h"

/* Cases (lines starting "case ") of every vectors/NAME.vec; -1 without files. */
static long count_cases(void)
{
    DIR *d = opendir("vectors");
    struct dirent *e;
    long n = 0, files = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        char path[1024], line[64];
        FILE *fp;
        if (l <= 4 || strcmp(e->d_name + l - 4, ".vec"))
            continue;
        files++;
        snprintf(path, sizeof path, "vectors/%s", e->d_name);
        if (!(fp = fopen(path, "r")))
            continue;
        while (fgets(line, sizeof line, fp)) {
            size_t k = strlen(line);
            if (!strncmp(line, "case ", 5))
                n++;
            while (k && line[k - 1] != '\n' && fgets(line, sizeof line, fp)) /* skip long lines */
                k = strlen(line);
        }
        fclose(fp);
    }
    closedir(d);
    return files ? n : -1;
}

/* dpo_vecrun_verify on DIR, its printed output discarded; returns 0 when
 * every case passed, 1 when some failed, -1 when it could not run. */
static int run_verify(const char *dir, long *passed, long *failed)
{
    FILE *null = fopen("/dev/null", "w");
    dpo_vecrun_io io;
    int p = -1, f = -1;
    dpo_status st;
    io.out = null;
    io.err = null;
    io.max_gen = 0;
    st = null ? dpo_vecrun_verify(&io, dir, &p, &f) : DPO_ERR_IO;
    if (null)
        fclose(null);
    *passed = p;
    *failed = f;
    return st ? -1 : f ? 1 : 0;
}

static void test_vectors(void)
{
    long n = count_cases(), p, f;
    int rc;
    CHECK(n > 0, "no vectors found (vectors/*.vec)");
    rc = run_verify("vectors", &p, &f);
    CHECK(rc == 0 && f == 0, "verify vectors: status %d, %ld failed (run diffpo verify for the failing cases)", rc, f);
    CHECK(p == n, "verify vectors passed %ld of the %ld cases", p, n);
}

/* TailorPO with theta = ref: lr = 0, z = 0, loss = log 2 (0x1.62e42fefa39efp-1),
 * s = 1/2, grad_mu = -beta s (x_w - x_l)/sigma^2 = (-1, -0.5) for beta 2. */
static const char *HAND = "# hand-written\n"
                          "case hand-f64-0001\nfn tailorpo\nref TailorPO eq. 21\nprec f64\nreduce sum\n"
                          "param beta 0x1p+1\nparam sigma 0x1p+0\n"
                          "in x_w 2 0x1p+0 0x1p-1\nin x_l 2 0x0p+0 0x0p+0\n"
                          "in mu 2 0x1p-2 0x1p-2\nin mu_ref 2 0x1p-2 0x1p-2\n"
                          "out z 1 0x0p+0\ntol z exact\n"
                          "out loss 1 %s\n"
                          "out grad_mu 2 -0x1p+0 %s\ntol grad_mu ulp 1\nend\n";

static int write_case(const char *path, const char *loss, const char *g1)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    fprintf(fp, HAND, loss, g1);
    return fclose(fp);
}

static void test_checker(void)
{
    char dir[] = "/tmp/dpo_vecXXXXXX", path[256];
    long p, f;
    int rc;
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof path, "%s/a.vec", dir);
    CHECK(write_case(path, "0x1.62e42fefa39efp-1", "-0x1p-1") == 0, "write");
    rc = run_verify(dir, &p, &f);
    CHECK(rc == 0 && p == 1 && f == 0, "hand case: rc %d, %ld passed, %ld failed", rc, p, f);
    /* loss 5 ulp off (default tol ulp 4) */
    CHECK(write_case(path, "0x1.62e42fefa39f4p-1", "-0x1p-1") == 0, "write");
    rc = run_verify(dir, &p, &f);
    CHECK(rc != 0 && p == 0 && f == 1, "wrong loss: rc %d, %ld passed, %ld failed", rc, p, f);
    /* gradient element 2 ulp(M) off under tol ulp 1 */
    CHECK(write_case(path, "0x1.62e42fefa39efp-1", "-0x1.0000000000004p-1") == 0, "write");
    rc = run_verify(dir, &p, &f);
    CHECK(rc != 0 && p == 0 && f == 1, "wrong gradient: rc %d, %ld passed, %ld failed", rc, p, f);
    remove(path);
    rc = run_verify(dir, &p, &f);
    CHECK(rc != 0, "an empty directory fails (rc %d)", rc);
    remove(dir);
}

/* dpo_vecrun_loss_buf prints the case back with the library's values; a
 * malformed buffer prints nothing and gives DPO_ERR_FORMAT; a missing
 * directory gives DPO_ERR_IO. */
static void test_loss_buf(void)
{
    char buf[2048], line[512];
    FILE *out = tmpfile(), *null = fopen("/dev/null", "w");
    dpo_vecrun_io io;
    int got_loss = 0, got_lines = 0, p = 0, f = 0;
    dpo_status st;
    if (!out || !null) {
        CHECK(0, "tmpfile");
        return;
    }
    io.out = out;
    io.err = null;
    io.max_gen = 0;
    snprintf(buf, sizeof buf, HAND, "0x1.62e42fefa39efp-1", "-0x1p-1");
    st = dpo_vecrun_loss_buf(&io, "hand.vec", buf, strlen(buf));
    CHECK(st == DPO_OK, "loss_buf: %s", dpo_status_str(st));
    rewind(out);
    while (fgets(line, sizeof line, out)) {
        got_lines += !strncmp(line, "got ", 4);
        got_loss += !strcmp(line, "got loss 1 0x1.62e42fefa39efp-1\n");
    }
    CHECK(got_lines == 3 && got_loss == 1, "loss_buf: %d got lines, loss line %d", got_lines, got_loss);
    fclose(out);
    out = tmpfile();
    io.out = out;
    st = dpo_vecrun_loss_buf(&io, "bad.vec", "case x\n", 7);
    CHECK(st == DPO_ERR_FORMAT && out && ftell(out) == 0, "malformed buffer: %s", dpo_status_str(st));
    st = dpo_vecrun_verify(&io, "/nonexistent-dir-of-vectors", &p, &f);
    CHECK(st == DPO_ERR_IO, "missing directory: %s", dpo_status_str(st));
    if (out)
        fclose(out);
    fclose(null);
}

int main(void)
{
    RUN(test_vectors);
    RUN(test_checker);
    RUN(test_loss_buf);
    return chk_summary();
}
