/* Every golden vector file vectors/NAME.vec, every case, through the library
 * (the evaluator of `diffpo verify`, run as a subprocess so that this test
 * and the CLI cannot disagree; docs/vectors.md is the contract).
 *   - no vector files -> failing tests: the suite cannot pass without them;
 *   - the summary must count every case of vectors/ as passed;
 *   - the checker itself: a hand-written case (values exact by hand) passes
 *     and the same case with a wrong expected value fails. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include "diffpo.h"
#include "check.h"

static const char *bin(void)
{
    static char b[512];
    const char *e = getenv("BUILD");
    snprintf(b, sizeof b, "%s/diffpo", e ? e : "build");
    return b;
}

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

/* Runs `diffpo verify DIR`; returns the exit status, fills the summary. */
static int run_verify(const char *dir, long *passed, long *failed)
{
    char cmd[1200], line[256], last[256] = "";
    FILE *p;
    int rc;
    snprintf(cmd, sizeof cmd, "%s verify %s 2>/dev/null", bin(), dir);
    p = popen(cmd, "r");
    if (!p)
        return -1;
    while (fgets(line, sizeof line, p))
        memcpy(last, line, sizeof line);
    rc = pclose(p);
    *passed = *failed = -1;
    if (sscanf(last, "%ld passed, %ld failed", passed, failed) != 2)
        *passed = *failed = -1;
    return rc;
}

static void test_vectors(void)
{
    long n = count_cases(), p, f;
    int rc;
    CHECK(n > 0, "no vectors found (vectors/*.vec)");
    rc = run_verify("vectors", &p, &f);
    CHECK(rc == 0 && f == 0, "diffpo verify vectors: exit %d, %ld failed (run it for the failing cases)", rc, f);
    CHECK(p == n, "diffpo verify vectors passed %ld of the %ld cases", p, n);
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
    CHECK(rc == 0 && p == 1 && f == 0, "hand case: exit %d, %ld passed, %ld failed", rc, p, f);
    /* loss 5 ulp off (default tol ulp 4) */
    CHECK(write_case(path, "0x1.62e42fefa39f4p-1", "-0x1p-1") == 0, "write");
    rc = run_verify(dir, &p, &f);
    CHECK(rc != 0 && p == 0 && f == 1, "wrong loss: exit %d, %ld passed, %ld failed", rc, p, f);
    /* gradient element 2 ulp(M) off under tol ulp 1 */
    CHECK(write_case(path, "0x1.62e42fefa39efp-1", "-0x1.0000000000004p-1") == 0, "write");
    rc = run_verify(dir, &p, &f);
    CHECK(rc != 0 && p == 0 && f == 1, "wrong gradient: exit %d, %ld passed, %ld failed", rc, p, f);
    remove(path);
    rc = run_verify(dir, &p, &f);
    CHECK(rc != 0, "an empty directory fails (exit %d)", rc);
    remove(dir);
}

int main(void)
{
    RUN(test_vectors);
    RUN(test_checker);
    return chk_summary();
}
