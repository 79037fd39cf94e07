// A transfer buffer in host memory or in one GPU's memory (cudaMalloc), with the host<->buffer
// copies that filling and verifying need. CUDA-less builds and machines without a GPU only offer
// host memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace tcpxp::cli {

// GPUs the CUDA runtime sees (0 in a CUDA-less build or without a driver).
int gpuCount();
// "NVIDIA H100 80GB HBM3", or "" when unknown.
std::string gpuName(int gpu);
// "host memory" or "GPU 1 (NVIDIA H100 80GB HBM3, 0000:4a:00.0)".
std::string memoryName(int gpu);

// The memory of the two local peers (demo, bench --local). -1 = host memory.
struct PeerGpus {
  int server = -1;
  int client = -1;
};
// host: --host. gpu, server_gpu: --gpu / --server-gpu, -2 when not given. Default: GPU memory when
// a GPU is present (server GPU 1 if there are 2 or more, else GPU 0; client GPU 0), else host.
// Returns false with *error for a GPU that does not exist or a conflict.
bool choosePeerGpus(bool host, int gpu, int server_gpu, PeerGpus* out, std::string* error);
// One process: --host -> -1; --gpu N -> N; default GPU 0 when present, else host.
bool chooseGpu(bool host, int gpu, int* out, std::string* error);

class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  ~Buffer();

  // gpu -1: host memory (4 KiB aligned); otherwise cudaMalloc on that GPU. Contents are zero.
  static Status allocate(int gpu, size_t size, Buffer* out);

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  int gpu() const { return gpu_; }

  Status upload(size_t offset, const void* src, size_t n);
  Status download(size_t offset, void* dst, size_t n) const;
  Status zero();

 private:
  void release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int gpu_ = -1;
};

}  // namespace tcpxp::cli
