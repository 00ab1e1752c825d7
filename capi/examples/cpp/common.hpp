// Helpers shared by the C++ examples: a demo file in $TMPDIR.
#ifndef AURAIO_EXAMPLES_COMMON_HPP
#define AURAIO_EXAMPLES_COMMON_HPP

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace demo {

inline std::string tmp_path(const char *name) {
    const char *dir = std::getenv("TMPDIR");
    return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

/// Writes `size` bytes where byte i is (i * 7 + i / 4096) & 0xff; returns the path.
inline std::string make_file(const char *name, size_t size) {
    std::string path = tmp_path(name);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        throw std::runtime_error("cannot create " + path);
    }
    std::vector<unsigned char> block(65536);
    for (size_t off = 0; off < size; off += block.size()) {
        size_t n = std::min(block.size(), size - off);
        for (size_t i = 0; i < n; ++i) {
            size_t pos = off + i;
            block[i] = static_cast<unsigned char>((pos * 7 + pos / 4096) & 0xff);
        }
        if (::pwrite(fd, block.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
            throw std::runtime_error("cannot write " + path);
        }
    }
    ::close(fd);
    return path;
}

inline bool byte_ok(size_t pos, unsigned char c) {
    return c == static_cast<unsigned char>((pos * 7 + pos / 4096) & 0xff);
}

} // namespace demo

#endif
