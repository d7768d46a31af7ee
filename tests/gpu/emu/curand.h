// CPU emulation (make test-emu): the few cuRAND host types and constants
// that tests/gpu/bench_gpu.cu names.  Not NVIDIA's header and no library:
// bench_gpu loads libcurand with dlopen on a GPU and, built for the
// emulation (DPO_EMU), never loads it, so it prints its "cuRAND not
// available" row.  The values are the runtime's numbering.
#ifndef DPO_EMU_CURAND_H
#define DPO_EMU_CURAND_H

enum curandStatus {
    CURAND_STATUS_SUCCESS = 0
};
typedef enum curandStatus curandStatus_t;

enum curandRngType {
    CURAND_RNG_PSEUDO_PHILOX4_32_10 = 161
};
typedef enum curandRngType curandRngType_t;

struct curandGenerator_st;
typedef struct curandGenerator_st *curandGenerator_t;

#endif
