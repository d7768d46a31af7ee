// The network's matrix products on the device for host-side callers: a
// dpo_matmul_backend (diffpo_align.h) over dpo_cuda_matmul_strict or the
// cuBLASLt plans of kernels/blaslt.cu (diffpo_cuda_model.h, "host products
// on the device").  Host code only; no kernels of its own.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "dpo_cuda_internal.cuh"
#include "diffpo_cuda_model.h"

struct dpo_cuda_host_mm {
    dpo_cuda_mm_mode mode;
    int device; // current at create: its buffers, stream and plans live there
    size_t cap_a, cap_b, cap_c; // floats in d_a, d_b, d_c
    float *d_a, *d_b, *d_c;
    void *d_work; // cuBLASLt workspace (fast mode)
    size_t work_size;
    cudaStream_t stream;
    pthread_mutex_t mu;
    uint64_t calls;
    // fast mode: one plan per shape, made on first use
    size_t nplans, cap_plans;
    dpo_cuda_mm_shape *shapes;
    dpo_cuda_mm_plan **plans;
};

static void hm_release(dpo_cuda_host_mm *h)
{
    for (size_t i = 0; i < h->nplans; i++)
        dpo_cuda_mm_plan_destroy(h->plans[i]);
    free(h->plans);
    free(h->shapes);
    if (h->d_a)
        cudaFree(h->d_a);
    if (h->d_b)
        cudaFree(h->d_b);
    if (h->d_c)
        cudaFree(h->d_c);
    if (h->d_work)
        cudaFree(h->d_work);
    if (h->stream)
        cudaStreamDestroy(h->stream);
}

// a * b, or 0 when it overflows size_t or passes DPO_MAX_ELEMS
static size_t hm_cap(size_t a, size_t b)
{
    if (a == 0 || b == 0 || a > DPO_MAX_ELEMS / b)
        return 0;
    return a * b;
}

extern "C" dpo_status dpo_cuda_host_mm_create(dpo_cuda_host_mm **out, dpo_cuda_mm_mode mode, size_t max_m, size_t max_k,
                                            size_t max_n)
{
    if (!out)
        return DPO_ERR_NULL;
    if (mode != DPO_CUDA_MM_STRICT && mode != DPO_CUDA_MM_FAST)
        return DPO_ERR_RANGE;
    const size_t ca = hm_cap(max_m, max_k), cb = hm_cap(max_k, max_n), cc = hm_cap(max_m, max_n);
    if (!ca || !cb || !cc)
        return DPO_ERR_SIZE;
    dpo_cuda_host_mm *h = (dpo_cuda_host_mm *)calloc(1, sizeof *h);
    if (!h)
        return DPO_ERR_SIZE;
    h->mode = mode;
    h->cap_a = ca;
    h->cap_b = cb;
    h->cap_c = cc;
    dpo_status st = DPO_OK;
    if (cudaGetDevice(&h->device) != cudaSuccess ||
        cudaMalloc((void **)&h->d_a, ca * sizeof(float)) != cudaSuccess ||
        cudaMalloc((void **)&h->d_b, cb * sizeof(float)) != cudaSuccess ||
        cudaMalloc((void **)&h->d_c, cc * sizeof(float)) != cudaSuccess ||
        cudaStreamCreate(&h->stream) != cudaSuccess)
        st = DPO_ERR_CUDA;
    if (st == DPO_OK && mode == DPO_CUDA_MM_FAST) {
        h->work_size = DPO_CUDA_MM_WORKSPACE_DEFAULT;
        if (cudaMalloc(&h->d_work, h->work_size) != cudaSuccess)
            st = DPO_ERR_CUDA;
    }
    if (st == DPO_OK && pthread_mutex_init(&h->mu, NULL) != 0)
        st = DPO_ERR_UNSUPPORTED;
    if (st != DPO_OK) {
        cudaGetLastError(); // clear a non-sticky allocation error
        hm_release(h);
        free(h);
        return st;
    }
    *out = h;
    return DPO_OK;
}

// Makes h's device current for the calling thread (the runtime's current
// device is per host thread: a trainer's worker thread starts on device 0
// whatever device create ran on); *prev receives the previous one.
static dpo_status hm_enter(const dpo_cuda_host_mm *h, int *prev)
{
    DPO_CU(cudaGetDevice(prev));
    if (*prev != h->device)
        DPO_CU(cudaSetDevice(h->device));
    return DPO_OK;
}

static void hm_leave(const dpo_cuda_host_mm *h, int prev)
{
    if (prev != h->device)
        cudaSetDevice(prev);
}

extern "C" void dpo_cuda_host_mm_destroy(dpo_cuda_host_mm *h)
{
    if (!h)
        return;
    int prev = h->device;
    if (hm_enter(h, &prev) != DPO_OK)
        prev = h->device; // free what can be freed on whatever device is current
    if (h->stream)
        cudaStreamSynchronize(h->stream);
    hm_release(h);
    hm_leave(h, prev);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

extern "C" size_t dpo_cuda_host_mm_dim(const dpo_mlp_cfg *cfg, size_t n)
{
    if (!cfg)
        return 0;
    size_t d = cfg->dim + cfg->temb + cfg->cemb;
    if (cfg->hidden > d)
        d = cfg->hidden;
    return n > d ? n : d;
}

extern "C" uint64_t dpo_cuda_host_mm_calls(const dpo_cuda_host_mm *h)
{
    if (!h)
        return 0;
    dpo_cuda_host_mm *w = (dpo_cuda_host_mm *)h;
    pthread_mutex_lock(&w->mu);
    uint64_t c = w->calls;
    pthread_mutex_unlock(&w->mu);
    return c;
}

extern "C" size_t dpo_cuda_host_mm_num_plans(const dpo_cuda_host_mm *h)
{
    if (!h)
        return 0;
    dpo_cuda_host_mm *w = (dpo_cuda_host_mm *)h;
    pthread_mutex_lock(&w->mu);
    size_t c = w->nplans;
    pthread_mutex_unlock(&w->mu);
    return c;
}

// The plan for shape s (made and cached on first use); NULL on failure.
static dpo_cuda_mm_plan *hm_plan(dpo_cuda_host_mm *h, const dpo_cuda_mm_shape *s)
{
    for (size_t i = 0; i < h->nplans; i++) {
        const dpo_cuda_mm_shape *q = &h->shapes[i];
        if (q->m == s->m && q->k == s->k && q->n == s->n && q->ta == s->ta && q->tb == s->tb &&
            q->accumulate == s->accumulate)
            return h->plans[i];
    }
    if (h->nplans == h->cap_plans) {
        size_t nc = h->cap_plans ? 2 * h->cap_plans : 16;
        dpo_cuda_mm_shape *ns = (dpo_cuda_mm_shape *)realloc(h->shapes, nc * sizeof *ns);
        if (!ns)
            return NULL;
        h->shapes = ns;
        dpo_cuda_mm_plan **np = (dpo_cuda_mm_plan **)realloc(h->plans, nc * sizeof *np);
        if (!np)
            return NULL;
        h->plans = np;
        h->cap_plans = nc;
    }
    dpo_cuda_mm_plan *p = NULL;
    if (dpo_cuda_mm_plan_create(&p, s, h->work_size, 0u, NULL) != DPO_OK)
        return NULL;
    h->shapes[h->nplans] = *s;
    h->plans[h->nplans] = p;
    h->nplans++;
    return p;
}

// One product under the lock; a dpo_status.
static dpo_status hm_product(dpo_cuda_host_mm *h, float *C, const float *A, const float *B, size_t m, size_t k,
                             size_t n, int ta, int tb, int acc)
{
    const size_t f = sizeof(float);
    if (m * k > h->cap_a || k * n > h->cap_b || m * n > h->cap_c)
        return DPO_ERR_SIZE;
    DPO_CU_ENTRY();
    cudaStream_t st = h->stream;
    DPO_CU(cudaMemcpyAsync(h->d_a, A, m * k * f, cudaMemcpyHostToDevice, st));
    DPO_CU(cudaMemcpyAsync(h->d_b, B, k * n * f, cudaMemcpyHostToDevice, st));
    if (acc)
        DPO_CU(cudaMemcpyAsync(h->d_c, C, m * n * f, cudaMemcpyHostToDevice, st));
    dpo_status e;
    if (h->mode == DPO_CUDA_MM_STRICT) {
        e = dpo_cuda_matmul_strict(h->d_c, h->d_a, h->d_b, m, k, n, ta, tb, acc, st);
    } else {
        dpo_cuda_mm_shape s;
        s.m = m;
        s.k = k;
        s.n = n;
        s.ta = ta ? 1 : 0;
        s.tb = tb ? 1 : 0;
        s.accumulate = acc ? 1 : 0;
        const dpo_cuda_mm_plan *p = hm_plan(h, &s);
        e = p ? dpo_cuda_matmul_fast(p, h->d_c, h->d_a, h->d_b, h->d_work, h->work_size, st) : DPO_ERR_UNSUPPORTED;
    }
    if (e != DPO_OK)
        return e;
    // The copy back is queued behind the product: an asynchronous device
    // fault surfaces at the synchronisation (non-zero return), and C may
    // then be partly written.
    DPO_CU(cudaMemcpyAsync(C, h->d_c, m * n * f, cudaMemcpyDeviceToHost, st));
    DPO_CU(cudaStreamSynchronize(st));
    return DPO_OK;
}

static int hm_backend_product(void *user, float *C, const float *A, const float *B, size_t m, size_t k, size_t n,
                              int ta, int tb, int acc)
{
    dpo_cuda_host_mm *h = (dpo_cuda_host_mm *)user;
    if (!h)
        return DPO_ERR_NULL;
    if (!C || m == 0 || n == 0)
        return DPO_OK;
    if (k == 0 || !A || !B) { // dpo_matmul_f32's k = 0 case, on the host
        if (!acc)
            memset(C, 0, m * n * sizeof(float));
        return DPO_OK;
    }
    pthread_mutex_lock(&h->mu);
    int prev = h->device;
    dpo_status e = hm_enter(h, &prev);
    if (e == DPO_OK) {
        e = hm_product(h, C, A, B, m, k, n, ta, tb, acc);
        if (e == DPO_OK)
            h->calls++;
        else
            cudaStreamSynchronize(h->stream); // nothing queued outlives a failed call
        hm_leave(h, prev);
    }
    pthread_mutex_unlock(&h->mu);
    return e;
}

extern "C" dpo_matmul_backend dpo_cuda_host_mm_backend(const dpo_cuda_host_mm *h)
{
    dpo_matmul_backend b;
    b.user = (void *)h;
    b.product = h ? hm_backend_product : NULL;
    return b;
}
