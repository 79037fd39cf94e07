// A FIFO ring of trivially copyable items that grows by doubling when full (rarely: capacities
// settle after warm-up), so steady-state pushes and pops never allocate.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace tcpxp {

template <typename T>
class Ring {
 public:
  explicit Ring(size_t capacity = 16) : items_(roundUp(capacity)) {}
  bool empty() const { return head_ == tail_; }
  size_t size() const { return tail_ - head_; }
  T& front() { return items_[head_ & mask()]; }
  T& at(size_t i) { return items_[(head_ + i) & mask()]; }
  void pop() { ++head_; }
  void push(const T& item) {
    if (size() == items_.size()) grow();
    items_[tail_ & mask()] = item;
    ++tail_;
  }

 private:
  static size_t roundUp(size_t n) {
    size_t c = 1;
    while (c < n) c <<= 1;
    return c;
  }
  size_t mask() const { return items_.size() - 1; }
  void grow() {
    std::vector<T> bigger(items_.size() * 2);
    for (size_t i = 0; i < size(); ++i) bigger[i] = at(i);
    tail_ = size();
    head_ = 0;
    items_ = std::move(bigger);
  }
  std::vector<T> items_;
  size_t head_ = 0;
  size_t tail_ = 0;
};

}  // namespace tcpxp
