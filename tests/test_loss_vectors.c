/* Every golden vector file vectors/NAME.vec, every case, through the library
 * (the same evaluator as `diffpo verify`, run as a subprocess so that this
 * test and the CLI cannot disagree).  No vector files -> a failing test
 * 'no vectors found': the suite cannot pass silently without them. */
#include <dirent.h>
#include <stdlib.h>
#include "diffpo.h"
#include "check.h"

static void test_vectors_present(void)
{
    DIR *d = opendir("vectors");
    struct dirent *e;
    int n = 0;
    if (d) {
        while ((e = readdir(d)) != NULL) {
            size_t l = strlen(e->d_name);
            if (l > 4 && !strcmp(e->d_name + l - 4, ".vec"))
                n++;
        }
        closedir(d);
    }
    CHECK(n > 0, "no vectors found (vectors/*.vec)");
}

static void test_verify_all(void)
{
    const char *b = getenv("BUILD");
    char cmd[512];
    int rc;
    snprintf(cmd, sizeof cmd, "%s/diffpo verify vectors > /dev/null", b ? b : "build");
    rc = system(cmd);
    CHECK(rc == 0, "diffpo verify vectors failed (%d): run it for the failing cases", rc);
}

int main(void)
{
    RUN(test_vectors_present);
    RUN(test_verify_all);
    return chk_summary();
}
