/* Allocation counting for tests: interposes malloc/calloc/realloc in the
 * test executable (glibc's __libc_* entry points do the work) and counts
 * calls in n_alloc.  COUNTING is 0 under sanitizers (which own malloc) and
 * off glibc; tests then skip their allocation checks.  Include in exactly
 * one translation unit per test program. */
#ifndef DPO_ALLOC_COUNT_H
#define DPO_ALLOC_COUNT_H

#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define DPO_NO_INTERPOSE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define DPO_NO_INTERPOSE 1
#endif
#endif

#if !defined(DPO_NO_INTERPOSE) && defined(__GLIBC__)
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static volatile long n_alloc;
void *malloc(size_t n)
{
    n_alloc++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    n_alloc++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    n_alloc++;
    return __libc_realloc(p, n);
}
#define COUNTING 1
#else
static volatile long n_alloc;
#define COUNTING 0
#endif

#endif
