// STAND-IN for cuBLASLt in the CPU emulation (see cublasLt.h).  It checks
// what kernels/blaslt.cu hands over the way a caller of the real library
// would be checked (layouts consistent with the transposes, leading
// dimensions, operands inside device allocations, workspace size) and
// computes D = alpha op(A) op(B) + beta C in column-major order with a
// plain float loop (ascending inner index, no FMA).  It says nothing about
// cuBLASLt's own results, algorithms or determinism.
#include "cublasLt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dpo_emu_lt {
    int magic;
};
struct dpo_emu_lt_desc {
    cublasComputeType_t ct;
    int opa, opb;
};
struct dpo_emu_lt_layout {
    uint64_t rows, cols;
    int64_t ld;
};
struct dpo_emu_lt_pref {
    uint64_t max_ws;
    uint32_t red_mask;
    uint32_t align[4]; // minimum alignment the caller promises for A, B, C, D (default 256, as cuBLASLt)
};

namespace {
const uint64_t MAGIC = 0x454d552d4c540001ull; // "EMU-LT"
// Two stand-in algorithms, both the same float loop: id 1 serves any 4-byte
// aligned operand; id 2 stands for the faster kernels that need 16-byte
// aligned A, B, C and D (cuBLASLt's vectorised and TMA kernels).  As in
// cuBLASLt, the heuristic returns id 2 unless the preference's minimum
// alignments rule it out, cublasLtMatmulAlgoCheck accepts either (it sees
// no preference), and cublasLtMatmul refuses id 2 on a misaligned operand.
const uint32_t ALGO_ALIGN4 = 1, ALGO_ALIGN16 = 2;

struct Dims {
    uint64_t m, n, k;
};

cublasStatus_t bad(const char *what)
{
    fprintf(stderr, "emu: cublasLt: %s\n", what);
    return CUBLAS_STATUS_INVALID_VALUE;
}

// cuBLAS naming: op(A) is m x k, op(B) is k x n, C and D are m x n.
cublasStatus_t dims(Dims *o, const dpo_emu_lt_desc *d, const dpo_emu_lt_layout *a, const dpo_emu_lt_layout *b,
                    const dpo_emu_lt_layout *c, const dpo_emu_lt_layout *dl)
{
    if (!d || !a || !b || !c || !dl)
        return bad("NULL descriptor or layout");
    uint64_t m = d->opa ? a->cols : a->rows, ka = d->opa ? a->rows : a->cols;
    uint64_t kb = d->opb ? b->cols : b->rows, n = d->opb ? b->rows : b->cols;
    if (ka != kb)
        return bad("op(A) and op(B) disagree on k");
    if (c->rows != m || c->cols != n || dl->rows != m || dl->cols != n)
        return bad("C/D layout is not m x n of op(A) op(B)");
    const dpo_emu_lt_layout *ls[4] = {a, b, c, dl};
    for (int i = 0; i < 4; i++)
        if (ls[i]->ld < 1 || (uint64_t)ls[i]->ld < ls[i]->rows)
            return bad("leading dimension smaller than the row count");
    o->m = m;
    o->n = n;
    o->k = ka;
    return CUBLAS_STATUS_SUCCESS;
}

bool on_device(const void *p, const dpo_emu_lt_layout *l)
{
    size_t elems = (size_t)((l->cols - 1) * (uint64_t)l->ld + l->rows);
    return p && (uintptr_t)p % 4 == 0 && dpo_emu_is_device(p, elems * sizeof(float));
}

uint32_t algo_align(const cublasLtMatmulAlgo_t *a)
{
    return a->data[1 + CUBLASLT_ALGO_CONFIG_ID] == ALGO_ALIGN16 ? 16u : 4u;
}

bool known_algo(const cublasLtMatmulAlgo_t *a)
{
    const uint64_t id = a->data[1 + CUBLASLT_ALGO_CONFIG_ID];
    return a->data[0] == MAGIC && (id == ALGO_ALIGN4 || id == ALGO_ALIGN16);
}

void make_algo(cublasLtMatmulAlgo_t *a, uint32_t id)
{
    memset(a, 0, sizeof(*a));
    a->data[0] = MAGIC;
    a->data[1 + CUBLASLT_ALGO_CONFIG_ID] = id;
    a->data[1 + CUBLASLT_ALGO_CONFIG_SPLITK_NUM] = 1;
    a->data[1 + CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME] = CUBLASLT_REDUCTION_SCHEME_NONE;
}
} // namespace

cublasStatus_t cublasLtCreate(cublasLtHandle_t *h)
{
    if (!h)
        return CUBLAS_STATUS_INVALID_VALUE;
    *h = new dpo_emu_lt();
    (*h)->magic = 1;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t h)
{
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t ct, cudaDataType_t scale)
{
    if (!d || scale != CUDA_R_32F || (ct != CUBLAS_COMPUTE_32F && ct != CUBLAS_COMPUTE_32F_FAST_TF32))
        return CUBLAS_STATUS_INVALID_VALUE;
    *d = new dpo_emu_lt_desc();
    (*d)->ct = ct;
    (*d)->opa = (*d)->opb = 0;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d)
{
    delete d;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a, const void *buf,
                                              size_t size)
{
    cublasOperation_t op;
    if (!d || !buf || size != sizeof(op))
        return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(&op, buf, sizeof(op));
    if (op != CUBLAS_OP_N && op != CUBLAS_OP_T)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (a == CUBLASLT_MATMUL_DESC_TRANSA)
        d->opa = op == CUBLAS_OP_T;
    else if (a == CUBLASLT_MATMUL_DESC_TRANSB)
        d->opb = op == CUBLAS_OP_T;
    else
        return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType_t type, uint64_t rows, uint64_t cols,
                                          int64_t ld)
{
    if (!l || type != CUDA_R_32F || rows == 0 || cols == 0 || ld < (int64_t)rows)
        return CUBLAS_STATUS_INVALID_VALUE;
    *l = new dpo_emu_lt_layout();
    (*l)->rows = rows;
    (*l)->cols = cols;
    (*l)->ld = ld;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l)
{
    delete l;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p)
{
    if (!p)
        return CUBLAS_STATUS_INVALID_VALUE;
    *p = new dpo_emu_lt_pref();
    (*p)->max_ws = 0;
    (*p)->red_mask = ~0u;
    for (int i = 0; i < 4; i++)
        (*p)->align[i] = 256;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p)
{
    delete p;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t a, const void *buf,
                                                    size_t size)
{
    if (!p || !buf)
        return CUBLAS_STATUS_INVALID_VALUE;
    switch (a) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES:
        if (size != sizeof(uint64_t))
            return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&p->max_ws, buf, size);
        return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK:
        if (size != sizeof(uint32_t))
            return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&p->red_mask, buf, size);
        return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES:
        if (size != sizeof(uint32_t))
            return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&p->align[a - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, size);
        return CUBLAS_STATUS_SUCCESS;
    }
    return CUBLAS_STATUS_INVALID_VALUE;
}
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a,
                                              cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                                              cublasLtMatrixLayout_t dl, cublasLtMatmulPreference_t p, int requested,
                                              cublasLtMatmulHeuristicResult_t *res, int *found)
{
    Dims dm;
    if (!h || !p || !res || !found || requested < 1)
        return CUBLAS_STATUS_INVALID_VALUE;
    cublasStatus_t s = dims(&dm, d, a, b, c, dl);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    memset(res, 0, sizeof(*res));
    bool all16 = true;
    for (int i = 0; i < 4; i++)
        all16 = all16 && p->align[i] >= 16 && p->align[i] % 16 == 0;
    make_algo(&res->algo, all16 ? ALGO_ALIGN16 : ALGO_ALIGN4);
    res->workspaceSize = 0;
    res->state = CUBLAS_STATUS_SUCCESS;
    res->wavesCount = 1.0f;
    *found = 1;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulAlgoCheck(cublasLtHandle_t h, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a,
                                       cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t dl,
                                       const cublasLtMatmulAlgo_t *algo, cublasLtMatmulHeuristicResult_t *res)
{
    Dims dm;
    if (!h || !algo || !res)
        return CUBLAS_STATUS_INVALID_VALUE;
    cublasStatus_t s = dims(&dm, d, a, b, c, dl);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!known_algo(algo))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    memset(res, 0, sizeof(*res));
    res->algo = *algo;
    res->workspaceSize = 0;
    res->state = CUBLAS_STATUS_SUCCESS;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulAlgoConfigGetAttribute(const cublasLtMatmulAlgo_t *algo,
                                                    cublasLtMatmulAlgoConfigAttributes_t a, void *buf, size_t size,
                                                    size_t *written)
{
    size_t need = (a == CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID || a == CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID) ? 2 : 4;
    if (!algo || (unsigned)a > CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (written)
        *written = need;
    if (!buf || size < need)
        return CUBLAS_STATUS_INVALID_VALUE;
    uint64_t v = (unsigned)a < 7 ? algo->data[1 + a] : 0;
    if (need == 2) {
        uint16_t x = (uint16_t)v;
        memcpy(buf, &x, 2);
    } else {
        uint32_t x = (uint32_t)v;
        memcpy(buf, &x, 4);
    }
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulAlgoCapGetAttribute(const cublasLtMatmulAlgo_t *algo, cublasLtMatmulAlgoCapAttributes_t a,
                                                 void *buf, size_t size, size_t *written)
{
    if (!algo || a < CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_A_BYTES || a > CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_D_BYTES)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (written)
        *written = sizeof(uint32_t);
    if (!buf || size < sizeof(uint32_t))
        return CUBLAS_STATUS_INVALID_VALUE;
    uint32_t v = algo_align(algo);
    memcpy(buf, &v, sizeof(v));
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t d, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t la, const void *B, cublasLtMatrixLayout_t lb, const void *beta,
                              const void *C, cublasLtMatrixLayout_t lc, void *D, cublasLtMatrixLayout_t ld,
                              const cublasLtMatmulAlgo_t *algo, void *work, size_t work_size, cudaStream_t)
{
    Dims dm;
    float al, be;
    if (!h || !alpha || !beta || !algo)
        return bad("NULL handle, scale or algorithm");
    cublasStatus_t s = dims(&dm, d, la, lb, lc, ld);
    if (s != CUBLAS_STATUS_SUCCESS)
        return s;
    if (!known_algo(algo))
        return bad("algorithm not from this stand-in's heuristic");
    if (((uintptr_t)A | (uintptr_t)B | (uintptr_t)C | (uintptr_t)D) % algo_align(algo))
        return bad("an operand is less aligned than the algorithm's minimum alignment");
    memcpy(&al, alpha, sizeof(al)); // host scalars (pointer mode host)
    memcpy(&be, beta, sizeof(be));
    if (!on_device(A, la) || !on_device(B, lb) || !on_device(D, ld) || (be != 0.0f && !on_device(C, lc)))
        return bad("an operand is not inside a device allocation (or not 4-byte aligned)");
    if (C == D && (lc->ld != ld->ld))
        return bad("in-place C = D with different layouts");
    if (work_size && !dpo_emu_is_device(work, work_size))
        return bad("workspace not inside a device allocation");
    const float *a = (const float *)A, *b = (const float *)B, *c = (const float *)C;
    float *o = (float *)D;
    for (uint64_t j = 0; j < dm.n; j++)
        for (uint64_t i = 0; i < dm.m; i++) {
            float acc = 0.0f;
            for (uint64_t p = 0; p < dm.k; p++) {
                float x = d->opa ? a[i * la->ld + p] : a[p * la->ld + i];
                float y = d->opb ? b[p * lb->ld + j] : b[j * lb->ld + p];
                acc = acc + x * y;
            }
            float r = al * acc;
            if (be != 0.0f)
                r = r + be * c[j * lc->ld + i];
            o[j * ld->ld + i] = r;
        }
    return CUBLAS_STATUS_SUCCESS;
}
