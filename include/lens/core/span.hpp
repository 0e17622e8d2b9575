// lens/core/span.hpp: lens::span, a non-owning view of caller memory.
#pragma once

#include <cstddef>
#include <type_traits>

namespace lens {

/// A pointer and a length: a view of caller-owned memory, never a copy.
template <class T>
class span {
 public:
  constexpr span() noexcept = default;
  constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
  /// Views a std::vector (or any contiguous container with data() and size()).
  template <class Container,
            class = std::enable_if_t<std::is_convertible<decltype(std::declval<Container&>().data()), T*>::value>>
  constexpr span(Container& container) noexcept : data_(container.data()), size_(container.size()) {}
  /// span<T> converts to span<const T>.
  template <class U, class = std::enable_if_t<std::is_convertible<U*, T*>::value>>
  constexpr span(span<U> other) noexcept : data_(other.data()), size_(other.size()) {}

  constexpr T* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }
  constexpr T* begin() const noexcept { return data_; }
  constexpr T* end() const noexcept { return data_ + size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace lens
