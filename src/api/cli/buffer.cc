#include "api/cli/buffer.h"

#include <cstdlib>
#include <cstring>
#include <utility>

#include "engine/memory_info.h"

#ifdef TCPXP_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tcpxp::cli {
namespace {

#ifdef TCPXP_HAVE_CUDA
Status cudaStatus(cudaError_t err, const std::string& what) {
  if (err == cudaSuccess) return Status::ok();
  cudaGetLastError();
  return Status(Code::kCudaError, what + ": " + cudaGetErrorString(err));
}
#endif

}  // namespace

int gpuCount() { return engine::gpuCount(); }

std::string gpuName(int gpu) {
#ifdef TCPXP_HAVE_CUDA
  if (gpu < 0 || gpu >= gpuCount()) return "";
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, gpu) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return prop.name;
#else
  (void)gpu;
  return "";
#endif
}

std::string memoryName(int gpu) {
  if (gpu < 0) return "host memory";
  std::string name = gpuName(gpu);
  std::string bdf = engine::gpuBdf(gpu);
  std::string detail = name;
  if (!bdf.empty()) detail += (detail.empty() ? "" : ", ") + bdf;
  return "GPU " + std::to_string(gpu) + (detail.empty() ? "" : " (" + detail + ")");
}

namespace {

bool checkGpu(const char* flag, int gpu, std::string* error) {
  int n = gpuCount();
  if (gpu < n) return true;
#ifdef TCPXP_HAVE_CUDA
  *error = std::string(flag) + " " + std::to_string(gpu) + ": this machine has " +
           std::to_string(n) + " GPU" + (n == 1 ? "" : "s") +
           (n > 0 ? " (0.." + std::to_string(n - 1) + ")" : "; use --host");
#else
  *error = std::string(flag) + ": tcpx-p2p was built without CUDA; use --host";
#endif
  return false;
}

}  // namespace

bool chooseGpu(bool host, int gpu, int* out, std::string* error) {
  if (host && gpu != -2) {
    *error = "--host and --gpu exclude each other";
    return false;
  }
  if (host) {
    *out = -1;
    return true;
  }
  if (gpu != -2) {
    if (!checkGpu("--gpu", gpu, error)) return false;
    *out = gpu;
    return true;
  }
  *out = gpuCount() > 0 ? 0 : -1;
  return true;
}

bool choosePeerGpus(bool host, int gpu, int server_gpu, PeerGpus* out, std::string* error) {
  if (host && (gpu != -2 || server_gpu != -2)) {
    *error = "--host excludes --gpu and --server-gpu";
    return false;
  }
  if (host) {
    *out = PeerGpus{};
    return true;
  }
  if (gpu != -2 && !checkGpu("--gpu", gpu, error)) return false;
  if (server_gpu != -2 && !checkGpu("--server-gpu", server_gpu, error)) return false;
  int n = gpuCount();
  if (gpu == -2 && server_gpu == -2 && n == 0) {
    *out = PeerGpus{};
    return true;
  }
  out->client = gpu != -2 ? gpu : 0;
  out->server = server_gpu != -2 ? server_gpu : gpu != -2 ? gpu : (n >= 2 ? 1 : 0);
  return true;
}

Buffer::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      gpu_(std::exchange(other.gpu_, -1)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    gpu_ = std::exchange(other.gpu_, -1);
  }
  return *this;
}

Buffer::~Buffer() { release(); }

void Buffer::release() {
  if (data_ == nullptr) return;
#ifdef TCPXP_HAVE_CUDA
  if (gpu_ >= 0) {
    cudaSetDevice(gpu_);
    cudaFree(data_);
    cudaGetLastError();
    data_ = nullptr;
    return;
  }
#endif
  std::free(data_);
  data_ = nullptr;
}

Status Buffer::allocate(int gpu, size_t size, Buffer* out) {
  if (size == 0) return Status(Code::kInvalidArgument, "buffer of 0 bytes");
  Buffer b;
  b.size_ = size;
  b.gpu_ = gpu;
  if (gpu < 0) {
    size_t rounded = (size + 4095) / 4096 * 4096;
    b.data_ = static_cast<uint8_t*>(std::aligned_alloc(4096, rounded));
    if (b.data_ == nullptr) {
      return Status(Code::kResourceExhausted,
                    "cannot allocate " + std::to_string(size) + " bytes of host memory");
    }
    std::memset(b.data_, 0, size);
    *out = std::move(b);
    return Status::ok();
  }
#ifdef TCPXP_HAVE_CUDA
  if (gpu >= gpuCount()) {
    return Status(Code::kInvalidArgument, "GPU " + std::to_string(gpu) + " does not exist (" +
                                              std::to_string(gpuCount()) + " GPUs)");
  }
  TCPXP_RETURN_IF_ERROR(
      cudaStatus(cudaSetDevice(gpu), "cudaSetDevice(" + std::to_string(gpu) + ")"));
  void* p = nullptr;
  TCPXP_RETURN_IF_ERROR(
      cudaStatus(cudaMalloc(&p, size), "cudaMalloc(" + std::to_string(size) + ")"));
  b.data_ = static_cast<uint8_t*>(p);
  TCPXP_RETURN_IF_ERROR(b.zero());
  *out = std::move(b);
  return Status::ok();
#else
  return Status(Code::kNotSupported, "GPU memory requested but tcpx-p2p was built without CUDA");
#endif
}

Status Buffer::upload(size_t offset, const void* src, size_t n) {
  if (offset > size_ || n > size_ - offset)
    return Status(Code::kInvalidArgument, "upload out of range");
#ifdef TCPXP_HAVE_CUDA
  if (gpu_ >= 0) {
    TCPXP_RETURN_IF_ERROR(cudaStatus(cudaSetDevice(gpu_), "cudaSetDevice"));
    return cudaStatus(cudaMemcpy(data_ + offset, src, n, cudaMemcpyHostToDevice),
                      "cudaMemcpy to GPU");
  }
#endif
  std::memcpy(data_ + offset, src, n);
  return Status::ok();
}

Status Buffer::download(size_t offset, void* dst, size_t n) const {
  if (offset > size_ || n > size_ - offset)
    return Status(Code::kInvalidArgument, "download out of range");
#ifdef TCPXP_HAVE_CUDA
  if (gpu_ >= 0) {
    TCPXP_RETURN_IF_ERROR(cudaStatus(cudaSetDevice(gpu_), "cudaSetDevice"));
    return cudaStatus(cudaMemcpy(dst, data_ + offset, n, cudaMemcpyDeviceToHost),
                      "cudaMemcpy from GPU");
  }
#endif
  std::memcpy(dst, data_ + offset, n);
  return Status::ok();
}

Status Buffer::zero() {
#ifdef TCPXP_HAVE_CUDA
  if (gpu_ >= 0) {
    TCPXP_RETURN_IF_ERROR(cudaStatus(cudaSetDevice(gpu_), "cudaSetDevice"));
    TCPXP_RETURN_IF_ERROR(cudaStatus(cudaMemset(data_, 0, size_), "cudaMemset"));
    return cudaStatus(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  }
#endif
  std::memset(data_, 0, size_);
  return Status::ok();
}

}  // namespace tcpxp::cli
