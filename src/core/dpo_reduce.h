/* The canonical reduction tree.
 *
 * A sum over n terms is defined as:
 *   1. blocks of DPO_REDUCE_BLOCK consecutive terms, each summed left to right
 *      in double, starting from the block's first term (the last block may be
 *      shorter);
 *   2. the block partials combined level by level: at each level adjacent
 *      pairs (0,1), (2,3), ... are added; an odd partial at the end of a level
 *      is carried unchanged to the next level; repeat until one remains.
 * The CPU evaluates step 2 with a binary-counter stack (dpo_tree_*), which
 * performs exactly the same additions; tests/test_reduce.c checks both
 * against each other for every n up to several thousand blocks.  The GPU
 * evaluates it level by level. */
#ifndef DPO_REDUCE_H
#define DPO_REDUCE_H

#include "dpo_hd.h"

#define DPO_REDUCE_BLOCK 64
#define DPO_TREE_DEPTH 64

typedef struct dpo_tree {
    double v[DPO_TREE_DEPTH];     /* partial sums on the stack */
    uint64_t n[DPO_TREE_DEPTH];   /* number of blocks each one covers */
    int top;
} dpo_tree;

DPO_HD void dpo_tree_init(dpo_tree *t)
{
    t->top = 0;
}

/* Push one block partial; merge while the two top entries cover equal
 * numbers of blocks (a complete pair at some level). */
DPO_HD void dpo_tree_push(dpo_tree *t, double v)
{
    uint64_t n = 1;
    while (t->top > 0 && t->n[t->top - 1] == n) {
        v = t->v[t->top - 1] + v;
        n = n + t->n[t->top - 1];
        t->top--;
    }
    t->v[t->top] = v;
    t->n[t->top] = n;
    t->top++;
}

/* Final value: the remaining entries, combined from the top (the odd
 * carries) downwards. 0 for an empty sum. */
DPO_HD double dpo_tree_result(const dpo_tree *t)
{
    double v;
    int i;
    if (t->top == 0)
        return 0.0;
    v = t->v[t->top - 1];
    for (i = t->top - 2; i >= 0; i--)
        v = t->v[i] + v;
    return v;
}

/* Streaming form of the whole definition: feed terms one by one. */
typedef struct dpo_sum {
    dpo_tree tree;
    double block;
    uint32_t fill;
} dpo_sum;

DPO_HD void dpo_sum_init(dpo_sum *s)
{
    dpo_tree_init(&s->tree);
    s->block = 0.0;
    s->fill = 0;
}

DPO_HD void dpo_sum_add(dpo_sum *s, double x)
{
    s->block = s->fill == 0 ? x : s->block + x;
    if (++s->fill == DPO_REDUCE_BLOCK) {
        dpo_tree_push(&s->tree, s->block);
        s->fill = 0;
    }
}

DPO_HD double dpo_sum_result(dpo_sum *s)
{
    if (s->fill) {
        dpo_tree_push(&s->tree, s->block);
        s->fill = 0;
    }
    return dpo_tree_result(&s->tree);
}

#endif
