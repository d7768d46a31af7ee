// Self-test of the CPU emulation (make test-emu runs it first): the
// emulator must run kernels the way the CUDA programming model defines
// them, and its checks must fire.  Expected values are computed here with
// plain loops, never by the emulator.
#include "cublasLt.h"
#include "cuda_runtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

// ------------------------------------------------------------- kernels
// Every thread of a 2-D grid of 2-D blocks writes its linear id once.
__global__ void k_ids(unsigned *out, unsigned *hits)
{
    unsigned bx = blockIdx.x + gridDim.x * blockIdx.y;
    unsigned tx = threadIdx.x + blockDim.x * threadIdx.y;
    unsigned g = bx * (blockDim.x * blockDim.y) + tx;
    out[g] = g;
    hits[g] += 1;
}

// Shared-memory tree sum of 256 values per CTA; with barriers or without.
template <bool SYNC> __global__ void k_tree(long long *out, const long long *in)
{
    __shared__ long long sh[256];
    unsigned t = threadIdx.x;
    sh[t] = in[blockIdx.x * 256 + t];
    if (SYNC)
        __syncthreads();
    for (unsigned s = 128; s > 0; s >>= 1) {
        if (t < s)
            sh[t] = sh[t] + sh[t + s];
        if (SYNC)
            __syncthreads();
    }
    if (t == 0)
        out[blockIdx.x] = sh[0];
}

// out[t] = in[t - 1] through shared memory (a lower thread's value).
template <bool SYNC> __global__ void k_shift(long long *out, const long long *in)
{
    __shared__ long long sh[128];
    unsigned t = threadIdx.x;
    sh[t] = in[blockIdx.x * 128 + t];
    if (SYNC)
        __syncthreads();
    out[blockIdx.x * 128 + t] = t ? sh[t - 1] : -1;
}

// Half the threads leave before the barrier.
__global__ void k_diverge(int *out, int low_returns)
{
    unsigned t = threadIdx.x;
    if (low_returns ? t < 64 : t >= 64)
        return;
    __syncthreads();
    out[t] = 1;
}

// ------------------------------------------------------------- tests
static void test_indexing(void)
{
    const dim3 grid(3, 5), block(16, 8);
    const unsigned n = 3 * 5 * 16 * 8;
    unsigned *out = NULL, *hits = NULL;
    CHECK(cudaMalloc(&out, n * 4) == cudaSuccess, "malloc");
    CHECK(cudaMalloc(&hits, n * 4) == cudaSuccess, "malloc");
    cudaMemset(hits, 0, n * 4);
    DPO_CU_LAUNCH(k_ids, (grid, block, 0, NULL), out, hits);
    CHECK(cudaGetLastError() == cudaSuccess, "launch");
    unsigned bad = 0;
    for (unsigned i = 0; i < n; i++)
        bad += out[i] != i || hits[i] != 1;
    CHECK(bad == 0, "%u of %u threads missing or repeated", bad, n);
    cudaFree(out);
    cudaFree(hits);
}

static void test_barriers_and_order(void)
{
    const unsigned nb = 7;
    long long *in, *out, *sh_out;
    long long want[7], hin[7 * 256];
    cudaMalloc(&in, sizeof(hin));
    cudaMalloc(&out, nb * sizeof(long long));
    cudaMalloc(&sh_out, nb * 128 * sizeof(long long));
    for (unsigned i = 0; i < nb * 256; i++)
        hin[i] = (long long)(i * 2654435761u % 100003u) - 50000;
    for (unsigned b = 0; b < nb; b++) {
        want[b] = 0;
        for (unsigned t = 0; t < 256; t++)
            want[b] += hin[b * 256 + t];
    }
    cudaMemcpy(in, hin, sizeof(hin), cudaMemcpyHostToDevice);
    for (int rev = 0; rev < 2; rev++) {
        dpo_emu_set_order(rev);
        // with barriers: right in both orders
        DPO_CU_LAUNCH((k_tree<true>), (nb, 256, 0, NULL), out, in);
        CHECK(memcmp(out, want, sizeof(want)) == 0, "tree sum with barriers wrong (order %d)", rev);
        DPO_CU_LAUNCH((k_shift<true>), (nb, 128, 0, NULL), sh_out, in);
        unsigned bad = 0;
        for (unsigned b = 0; b < nb; b++)
            for (unsigned t = 0; t < 128; t++)
                bad += sh_out[b * 128 + t] != (t ? hin[b * 128 + t - 1] : -1);
        CHECK(bad == 0, "shift with a barrier wrong (order %d)", rev);
        // without: the tree (readers below writers) fails in index order,
        // the shift (readers above writers) fails in reverse order
        DPO_CU_LAUNCH((k_tree<false>), (nb, 256, 0, NULL), out, in);
        int tree_ok = memcmp(out, want, sizeof(want)) == 0;
        DPO_CU_LAUNCH((k_shift<false>), (nb, 128, 0, NULL), sh_out, in);
        bad = 0;
        for (unsigned b = 0; b < nb; b++)
            for (unsigned t = 0; t < 128; t++)
                bad += sh_out[b * 128 + t] != (t ? hin[b * 128 + t - 1] : -1);
        if (rev == 0)
            CHECK(!tree_ok, "missing barrier in the tree not visible in index order");
        else
            CHECK(bad > 0, "missing barrier in the shift not visible in reverse order");
        CHECK(cudaGetLastError() == cudaSuccess, "launch (order %d)", rev);
    }
    dpo_emu_set_order(0);
    cudaFree(in);
    cudaFree(out);
    cudaFree(sh_out);
}

static void test_divergence(void)
{
    int *out;
    cudaMalloc(&out, 128 * sizeof(int));
    for (int low = 0; low < 2; low++) {
        DPO_CU_LAUNCH(k_diverge, (1, 128, 0, NULL), out, low);
        CHECK(cudaGetLastError() == cudaErrorLaunchFailure, "barrier divergence (low %d) not reported", low);
        CHECK(cudaDeviceSynchronize() == cudaErrorLaunchFailure, "divergence error not sticky");
        dpo_emu_reset();
    }
    cudaFree(out);
}

static void test_launch_config(void)
{
    unsigned *out, *hits;
    cudaMalloc(&out, 4096);
    cudaMalloc(&hits, 4096);
    cudaMemset(hits, 0, 4096);
    DPO_CU_LAUNCH(k_ids, (1, 1025, 0, NULL), out, hits);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "block of 1025 threads accepted");
    CHECK(cudaGetLastError() == cudaSuccess, "configuration error is sticky");
    DPO_CU_LAUNCH(k_ids, (dim3(1, 65536), 1, 0, NULL), out, hits);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "grid.y of 65536 accepted");
    DPO_CU_LAUNCH(k_ids, (0, 32, 0, NULL), out, hits);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration, "empty grid accepted");
    unsigned any = 0;
    for (unsigned i = 0; i < 1024; i++)
        any |= hits[i];
    CHECK(any == 0, "a rejected launch ran");
    cudaFree(out);
    cudaFree(hits);
}

static void test_memory(void)
{
    float *d;
    float h[10] = {0};
    CHECK(cudaMalloc(&d, 10 * sizeof(float)) == cudaSuccess, "malloc");
    CHECK((uintptr_t)d % 256 == 0, "allocation not 256-byte aligned");
    cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost);
    CHECK(isnan(h[0]) && isnan(h[9]), "fresh device memory is not NaN");
    CHECK(cudaMemcpy(d, h, 11 * sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue,
          "copy past the end of an allocation accepted");
    CHECK(cudaMemcpy(h, d + 1, 10 * sizeof(float), cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
          "copy from past the end accepted");
    CHECK(cudaMemcpy(h, h + 1, 4, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue, "host pointer taken as device");
    CHECK(cudaMemset(d, 0, 41) == cudaErrorInvalidValue, "memset past the end accepted");
    CHECK(cudaGetLastError() == cudaErrorInvalidValue && cudaGetLastError() == cudaSuccess, "last error");
    CHECK(cudaFree(h) == cudaErrorInvalidDevicePointer, "free of a host pointer accepted");
    cudaGetLastError();
    CHECK(cudaFree(d) == cudaSuccess, "free");
    CHECK(!dpo_emu_is_device(d, 4), "freed memory still device memory");
}

// What tests/gpu/bench_gpu.cu uses beyond the drivers: device attributes,
// device-to-device cudaMemcpyAsync, events holding host wall time.
static void test_bench_runtime(void)
{
    int v = -1;
    float *a = NULL, *b = NULL, h[8], g[8];
    cudaEvent_t e0 = NULL, e1 = NULL;
    float ms = -1;
    struct timespec ts = {0, 3000000}; // 3 ms
    CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0) == cudaSuccess && v == 1,
          "multiprocessor count %d", v);
    CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxThreadsPerBlock, 0) == cudaSuccess && v == 1024,
          "max threads per block %d", v);
    CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrWarpSize, 0) == cudaSuccess && v == 32, "warp size %d", v);
    v = 7;
    CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 1) == cudaErrorInvalidValue && v == 7,
          "device 1 accepted or value written");
    CHECK(cudaDeviceGetAttribute(NULL, cudaDevAttrMultiProcessorCount, 0) == cudaErrorInvalidValue, "null accepted");

    CHECK(cudaMalloc(&a, sizeof h) == cudaSuccess && cudaMalloc(&b, sizeof h) == cudaSuccess, "malloc");
    for (int i = 0; i < 8; i++)
        h[i] = (float)i - 3.5f;
    cudaMemcpy(a, h, sizeof h, cudaMemcpyHostToDevice);
    CHECK(cudaMemcpyAsync(b, a, sizeof h, cudaMemcpyDeviceToDevice) == cudaSuccess, "async D2D copy");
    cudaMemcpy(g, b, sizeof g, cudaMemcpyDeviceToHost);
    CHECK(memcmp(g, h, sizeof h) == 0, "async D2D copy did not copy");
    CHECK(cudaMemcpyAsync(b, h, sizeof h, cudaMemcpyDeviceToDevice) == cudaErrorInvalidValue,
          "host source of a D2D copy accepted");
    cudaGetLastError();

    CHECK(cudaEventCreate(&e0) == cudaSuccess && cudaEventCreate(&e1) == cudaSuccess, "event create");
    CHECK(cudaEventRecord(e0) == cudaSuccess, "record");
    nanosleep(&ts, NULL);
    CHECK(cudaEventRecord(e1) == cudaSuccess && cudaEventSynchronize(e1) == cudaSuccess, "record, sync");
    CHECK(cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess && ms >= 2.9f && ms < 1000.0f,
          "elapsed %g ms over a 3 ms sleep", (double)ms);
    CHECK(cudaEventElapsedTime(NULL, e0, e1) == cudaErrorInvalidValue, "null elapsed accepted");
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaFree(a);
    cudaFree(b);
}

// The stand-in's product against a double loop, all transposes, ld > rows.
static void test_lt_standin(void)
{
    const uint64_t m = 5, n = 7, k = 9, pad = 3;
    cublasLtHandle_t h;
    CHECK(cublasLtCreate(&h) == CUBLAS_STATUS_SUCCESS, "create");
    for (int v = 0; v < 4; v++) {
        int ta = v & 1, tb = v >> 1;
        uint64_t ra = ta ? k : m, ca = ta ? m : k, rb = tb ? n : k, cb = tb ? k : n;
        int64_t lda = (int64_t)(ra + pad), ldb = (int64_t)(rb + pad), ldc = (int64_t)(m + pad);
        size_t na = (size_t)lda * ca, nbb = (size_t)ldb * cb, nc = (size_t)ldc * n;
        float *A = (float *)malloc(na * 4), *B = (float *)malloc(nbb * 4), *C = (float *)malloc(nc * 4);
        for (size_t i = 0; i < na; i++)
            A[i] = (float)((int)(i * 37 % 19) - 9) / 8.0f;
        for (size_t i = 0; i < nbb; i++)
            B[i] = (float)((int)(i * 53 % 23) - 11) / 4.0f;
        for (size_t i = 0; i < nc; i++)
            C[i] = (float)((int)(i * 29 % 13) - 6);
        float *dA, *dB, *dC;
        cudaMalloc(&dA, na * 4);
        cudaMalloc(&dB, nbb * 4);
        cudaMalloc(&dC, nc * 4);
        cudaMemcpy(dA, A, na * 4, cudaMemcpyHostToDevice);
        cudaMemcpy(dB, B, nbb * 4, cudaMemcpyHostToDevice);
        cudaMemcpy(dC, C, nc * 4, cudaMemcpyHostToDevice);
        cublasLtMatmulDesc_t d;
        cublasLtMatrixLayout_t la, lb, lc, lbad;
        cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
        cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F);
        cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &oa, sizeof(oa));
        cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSB, &ob, sizeof(ob));
        cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, ra, ca, lda);
        cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, rb, cb, ldb);
        cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, m, n, ldc);
        cublasLtMatrixLayoutCreate(&lbad, CUDA_R_32F, m + 1, n, ldc);
        cublasLtMatmulPreference_t pref;
        cublasLtMatmulHeuristicResult_t res;
        int found = 0;
        cublasLtMatmulPreferenceCreate(&pref);
        CHECK(cublasLtMatmulAlgoGetHeuristic(h, d, la, lb, lc, lc, pref, 1, &res, &found) == CUBLAS_STATUS_SUCCESS &&
                  found == 1,
              "heuristic");
        CHECK(cublasLtMatmulAlgoGetHeuristic(h, d, la, lb, lbad, lbad, pref, 1, &res, &found) ==
                  CUBLAS_STATUS_INVALID_VALUE,
              "inconsistent C layout accepted (v %d)", v);
        cublasLtMatmulAlgoGetHeuristic(h, d, la, lb, lc, lc, pref, 1, &res, &found);
        const float alpha = 1.5f, beta = -0.5f;
        CHECK(cublasLtMatmul(h, d, &alpha, dA, la, dB, lb, &beta, dC, lc, dC, lc, &res.algo, NULL, 0, NULL) ==
                  CUBLAS_STATUS_SUCCESS,
              "matmul v %d", v);
        float *G = (float *)malloc(nc * 4);
        cudaMemcpy(G, dC, nc * 4, cudaMemcpyDeviceToHost);
        double worst = 0;
        for (uint64_t i = 0; i < m; i++)
            for (uint64_t j = 0; j < n; j++) {
                double s = 0;
                for (uint64_t p = 0; p < k; p++) {
                    double a = ta ? A[i * lda + p] : A[p * lda + i];
                    double b = tb ? B[p * ldb + j] : B[j * ldb + p];
                    s += a * b;
                }
                double want = 1.5 * s - 0.5 * C[j * ldc + i];
                double e = fabs(G[j * ldc + i] - want);
                worst = e > worst ? e : worst;
            }
        CHECK(worst <= 1e-4, "v %d: product off by %g", v, worst);
        unsigned pad_kept = 1;
        for (uint64_t j = 0; j < n; j++)
            for (uint64_t i = m; i < (uint64_t)ldc; i++)
                pad_kept &= memcmp(&G[j * ldc + i], &C[j * ldc + i], 4) == 0;
        CHECK(pad_kept, "v %d: wrote outside the m rows", v);
        // an operand that is not (entirely) device memory is refused
        CHECK(cublasLtMatmul(h, d, &alpha, A, la, dB, lb, &beta, dC, lc, dC, lc, &res.algo, NULL, 0, NULL) ==
                  CUBLAS_STATUS_INVALID_VALUE,
              "host operand accepted");
        CHECK(cublasLtMatmul(h, d, &alpha, dA + pad + 1, la, dB, lb, &beta, dC, lc, dC, lc, &res.algo, NULL, 0, NULL) ==
                  CUBLAS_STATUS_INVALID_VALUE,
              "operand past its allocation accepted");
        cublasLtMatmulPreferenceDestroy(pref);
        cublasLtMatrixLayoutDestroy(la);
        cublasLtMatrixLayoutDestroy(lb);
        cublasLtMatrixLayoutDestroy(lc);
        cublasLtMatrixLayoutDestroy(lbad);
        cublasLtMatmulDescDestroy(d);
        cudaFree(dA);
        cudaFree(dB);
        cudaFree(dC);
        free(A);
        free(B);
        free(C);
        free(G);
    }
    cublasLtDestroy(h);
}

int main(void)
{
    RUN(test_indexing);
    RUN(test_barriers_and_order);
    RUN(test_divergence);
    RUN(test_launch_config);
    RUN(test_memory);
    RUN(test_bench_runtime);
    RUN(test_lt_standin);
    return chk_summary();
}
