// Where the kernels' parallel loops run, and their error messages (see kernel_common.h).
#include "kernel_common.h"

extern "C" {

// Run parallel work through an OpenMP runtime's GOMP_parallel (libgomp, and the GOMP entry point
// of LLVM's libomp and Intel's libiomp5); null goes back to std::thread.
void msnet_use_openmp(void* gomp_parallel) {
  msnet::openmp_parallel = reinterpret_cast<msnet::ParallelFn>(gomp_parallel);
}

// Why the calling thread's last kernel call returned a non-zero status.
const char* msnet_last_error() {
  return msnet::last_error.c_str();
}

}  // extern "C"
