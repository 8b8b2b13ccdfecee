// Reading a fuzzer's input as a stream of small integers and byte runs: past
// the end every read returns zero, so every input is a valid program.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace rsfuzz {

class Input {
public:
    Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    template <typename T>
    T take() {
        T value{};
        const std::size_t n = size_ - used_ < sizeof(T) ? size_ - used_ : sizeof(T);
        if (n != 0) std::memcpy(&value, data_ + used_, n);
        used_ += n;
        return value;
    }
    std::uint8_t byte() { return take<std::uint8_t>(); }
    // The rest of the input (maybe empty).
    const std::uint8_t* rest(std::size_t& length) {
        length = size_ - used_;
        const std::uint8_t* out = data_ + used_;
        used_ = size_;
        return out;
    }
    [[nodiscard]] bool empty() const { return used_ >= size_; }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t used_ = 0;
};

// Stops the fuzzer with a crash report naming the broken promise.
[[noreturn]] inline void broken(const char* what) {
    __builtin_printf("rsfuzz: broken promise: %s\n", what);
    __builtin_trap();
}

}  // namespace rsfuzz
