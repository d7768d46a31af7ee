/* The splittable sum over samples (docs/reproducibility.md, "Sums over
 * samples that can be split"): a fixed binary tree over GLOBAL sample
 * indices, so that processes holding contiguous ranges of the samples can
 * each reduce their part to a few tree nodes and one combine of all nodes
 * in index order gives the bits of one process summing everything.
 *
 * The tree for n samples has height L = ceil(log2 n).  Node (lo, level)
 * with lo a multiple of 2^level and lo < n covers [lo, min(lo + 2^level, n)).
 * A leaf (level 0) is sample lo's vector.  An inner node is
 * left + right, element by element in double, where left = (lo, level-1)
 * and right = (lo + 2^(level-1), level-1); when right starts at or beyond n
 * the node is its left child unchanged (no addition).  The sum is the root
 * (0, L).
 *
 * Evaluation: one stack, fed with nodes in ascending index order.  A node
 * whose right sibling would start at or beyond n is first promoted (same
 * value, one level up); two adjacent siblings on top are replaced by their
 * sum.  Promotions add nothing and every addition is one of the tree's
 * (left + right), so the result does not depend on which nodes were fed:
 * leaves, a rank's nodes, or any partition of [0, n) into tree nodes. */
#include <string.h>
#include "diffpo.h"
#include "internal.h"

#define SPLIT_MAX_N ((uint64_t)1 << 62)

static unsigned split_height(uint64_t n)
{
    unsigned L = 0;
    while (((uint64_t)1 << L) < n)
        L++;
    return L;
}

static uint64_t node_end(uint64_t lo, unsigned level, uint64_t n)
{
    uint64_t span = (uint64_t)1 << level;
    return n - lo <= span ? n : lo + span;
}

size_t dpo_split_workspace_size(uint64_t n, size_t dim)
{
    if (n == 0 || n > SPLIT_MAX_N || dim == 0 || dim > DPO_MAX_ELEMS)
        return 0;
    return ((size_t)split_height(n) + 2) * dim * sizeof(double);
}

dpo_status dpo_split_nodes(dpo_split_node *nodes, size_t *count, uint64_t n, uint64_t a, uint64_t b)
{
    unsigned L;
    uint64_t lo;
    size_t k = 0;
    if (!count)
        return DPO_ERR_NULL;
    if (n == 0 || n > SPLIT_MAX_N || a >= b || b > n)
        return DPO_ERR_RANGE;
    L = split_height(n);
    /* first pass counts, second (when nodes is given and large enough) writes */
    for (lo = a; lo < b; k++) {
        unsigned l = 0;
        while (l < L && (lo & (((uint64_t)1 << (l + 1)) - 1)) == 0 && node_end(lo, l + 1, n) <= b)
            l++;
        lo = node_end(lo, l, n);
    }
    if (!nodes) {
        *count = k;
        return DPO_OK;
    }
    if (*count < k)
        return DPO_ERR_SIZE;
    k = 0;
    for (lo = a; lo < b; k++) {
        unsigned l = 0;
        while (l < L && (lo & (((uint64_t)1 << (l + 1)) - 1)) == 0 && node_end(lo, l + 1, n) <= b)
            l++;
        nodes[k].lo = lo;
        nodes[k].hi = node_end(lo, l, n);
        nodes[k].level = (int)l;
        lo = nodes[k].hi;
    }
    *count = k;
    return DPO_OK;
}

/* The evaluation stack: entries (lo, level) with their vectors in ws. */
typedef struct split_stack {
    double *ws;
    size_t dim;
    uint64_t n;
    unsigned L;
    uint64_t lo[66];
    unsigned level[66];
    int top;
} split_stack;

static unsigned promote(uint64_t lo, unsigned l, uint64_t n, unsigned L)
{
    while (l < L && ((lo >> l) & 1) == 0 && lo + ((uint64_t)1 << l) >= n)
        l++;
    return l;
}

/* The vector of the new entry is already in slot `top`. */
static void stack_push(split_stack *s, uint64_t lo, unsigned l)
{
    size_t d = s->dim, e;
    l = promote(lo, l, s->n, s->L);
    while (s->top > 0 && s->level[s->top - 1] == l && ((s->lo[s->top - 1] >> l) & 1) == 0 &&
           s->lo[s->top - 1] + ((uint64_t)1 << l) == lo) {
        double *left = s->ws + (size_t)(s->top - 1) * d;
        const double *right = left + d;
        for (e = 0; e < d; e++)
            left[e] = left[e] + right[e];
        s->top--;
        lo = s->lo[s->top];
        l = promote(lo, l + 1, s->n, s->L);
    }
    s->lo[s->top] = lo;
    s->level[s->top] = l;
    s->top++;
}

#define SPLIT_RANGE_BODY(T)                                                                       \
    size_t count = 0, k, e, rows;                                                                 \
    dpo_split_node nd[130];                                                                       \
    split_stack s;                                                                                \
    dpo_status st;                                                                                \
    if (!out || !x || !ws)                                                                        \
        return !ws ? DPO_ERR_WORKSPACE : DPO_ERR_NULL;                                            \
    if (dim == 0 || dim > DPO_MAX_ELEMS)                                                          \
        return DPO_ERR_SIZE;                                                                      \
    st = dpo_split_nodes(NULL, &count, n, a, b);                                                  \
    if (st != DPO_OK)                                                                             \
        return st;                                                                                \
    if (ws_size < dpo_split_workspace_size(n, dim))                                               \
        return DPO_ERR_WORKSPACE;                                                                 \
    rows = (size_t)(b - a);                                                                       \
    if (rows > DPO_MAX_ELEMS / dim)                                                               \
        return DPO_ERR_SIZE;                                                                      \
    if (dpo_overlap(out, count * dim * sizeof(double), x, rows * dim * sizeof(T)) ||              \
        dpo_overlap(out, count * dim * sizeof(double), ws, ws_size) ||                            \
        dpo_overlap(ws, ws_size, x, rows * dim * sizeof(T)))                                      \
        return DPO_ERR_ALIAS;                                                                     \
    for (e = 0; e < rows * dim; e++)                                                              \
        if (!(x[e] - x[e] == 0))                                                                  \
            return DPO_ERR_NONFINITE;                                                             \
    (void)dpo_split_nodes(nd, &count, n, a, b);                                                   \
    s.ws = (double *)ws;                                                                          \
    s.dim = dim;                                                                                  \
    s.n = n;                                                                                      \
    s.L = split_height(n);                                                                        \
    for (k = 0; k < count; k++) {                                                                 \
        uint64_t i;                                                                               \
        s.top = 0;                                                                                \
        for (i = nd[k].lo; i < nd[k].hi; i++) {                                                   \
            const T *row = x + (size_t)(i - a) * dim;                                             \
            double *slot = s.ws + (size_t)s.top * dim;                                            \
            for (e = 0; e < dim; e++)                                                             \
                slot[e] = (double)row[e];                                                         \
            stack_push(&s, i, 0);                                                                 \
        }                                                                                         \
        memcpy(out + k * dim, s.ws, dim * sizeof(double));                                        \
    }                                                                                             \
    return DPO_OK;

dpo_status dpo_split_reduce_range_f64(double *out, void *ws, size_t ws_size, const double *x, size_t dim,
                                      uint64_t n, uint64_t a, uint64_t b)
{
    SPLIT_RANGE_BODY(double)
}

dpo_status dpo_split_reduce_range_f32(double *out, void *ws, size_t ws_size, const float *x, size_t dim,
                                      uint64_t n, uint64_t a, uint64_t b)
{
    SPLIT_RANGE_BODY(float)
}

dpo_status dpo_split_combine(double *out, void *ws, size_t ws_size, const double *values,
                             const dpo_split_node *nodes, size_t count, size_t dim, uint64_t n)
{
    split_stack s;
    size_t k, e;
    uint64_t at = 0;
    if (!out || !values || !nodes)
        return DPO_ERR_NULL;
    if (!ws)
        return DPO_ERR_WORKSPACE;
    if (n == 0 || n > SPLIT_MAX_N)
        return DPO_ERR_RANGE;
    if (dim == 0 || dim > DPO_MAX_ELEMS || count == 0 || count > n || count > DPO_MAX_ELEMS / dim)
        return DPO_ERR_SIZE;
    if (ws_size < dpo_split_workspace_size(n, dim))
        return DPO_ERR_WORKSPACE;
    s.L = split_height(n);
    /* the nodes must be tree nodes partitioning [0, n) in ascending order */
    for (k = 0; k < count; k++) {
        const dpo_split_node *p = nodes + k;
        if (p->level < 0 || (unsigned)p->level > s.L || p->lo != at || p->lo >= n ||
            (p->lo & (((uint64_t)1 << p->level) - 1)) != 0 || p->hi != node_end(p->lo, (unsigned)p->level, n))
            return DPO_ERR_RANGE;
        at = p->hi;
    }
    if (at != n)
        return DPO_ERR_RANGE;
    if (dpo_overlap(out, dim * sizeof(double), values, count * dim * sizeof(double)) ||
        dpo_overlap(out, dim * sizeof(double), ws, ws_size) ||
        dpo_overlap(ws, ws_size, values, count * dim * sizeof(double)))
        return DPO_ERR_ALIAS;
    for (e = 0; e < count * dim; e++)
        if (!(values[e] - values[e] == 0))
            return DPO_ERR_NONFINITE;
    s.ws = (double *)ws;
    s.dim = dim;
    s.n = n;
    s.top = 0;
    for (k = 0; k < count; k++) {
        memcpy(s.ws + (size_t)s.top * dim, values + k * dim, dim * sizeof(double));
        stack_push(&s, nodes[k].lo, (unsigned)nodes[k].level);
    }
    memcpy(out, s.ws, dim * sizeof(double));
    return DPO_OK;
}

/* One element of the tree sum of n float32 rows, x[b * stride], b in [0, n):
 * the same stack (and so the same additions) as dpo_split_reduce_range_f32
 * over [0, n) with dim 1.  For the built-in trainers' per-prompt gradients
 * (src/model/train.c); no checks: the caller owns the layout. */
double dpo_split_sum1_f32(const float *x, size_t stride, uint64_t n)
{
    double ws[66];
    split_stack s;
    uint64_t b;
    if (n == 0)
        return 0.0;
    s.ws = ws;
    s.dim = 1;
    s.n = n;
    s.L = split_height(n);
    s.top = 0;
    for (b = 0; b < n; b++) {
        ws[s.top] = (double)x[(size_t)b * stride];
        stack_push(&s, b, 0);
    }
    return ws[0];
}
