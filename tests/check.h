/* Minimal test harness: a test is a function; it passes when none of its
 * CHECKs fail.  main() ends with "N passed, M failed". */
#ifndef DPO_CHECK_H
#define DPO_CHECK_H

#include <stdio.h>
#include <string.h>

static int chk_failures;
static int chk_tests_passed, chk_tests_failed;
static const char *chk_current;

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            chk_failures++;                                                       \
            if (chk_failures < 50) {                                              \
                fprintf(stderr, "  FAIL %s (%s:%d): ", chk_current, __FILE__, __LINE__); \
                fprintf(stderr, __VA_ARGS__);                                     \
                fputc('\n', stderr);                                              \
            }                                                                     \
        }                                                                         \
    } while (0)

#define RUN(fn)                                                                   \
    do {                                                                          \
        int before_ = chk_failures;                                               \
        chk_current = #fn;                                                        \
        fn();                                                                     \
        if (chk_failures == before_) {                                            \
            chk_tests_passed++;                                                   \
            printf("ok   %s\n", #fn);                                             \
        } else {                                                                  \
            chk_tests_failed++;                                                   \
            printf("FAIL %s\n", #fn);                                             \
        }                                                                         \
        fflush(stdout);                                                           \
    } while (0)

static inline int chk_summary(void)
{
    printf("%d passed, %d failed\n", chk_tests_passed, chk_tests_failed);
    return chk_tests_failed ? 1 : 0;
}

/* Bitwise equality of float/double arrays. */
static inline int chk_same_bits(const void *a, const void *b, size_t bytes)
{
    return memcmp(a, b, bytes) == 0;
}

#endif
