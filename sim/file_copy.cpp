#include "file_copy.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "base/errors.hpp"

namespace cdl::sim {

FileIdentity identity_of(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) return {};
  return {status.st_dev, status.st_ino, status.st_size, status.st_mtim, status.st_ctim};
}

// With read and write, so that a failure names its cause: std::filesystem::copy_file reported a
// full disk or the file-size limit as "Input/output error".
void copy_whole_file(const std::string& from, const std::string& to) {
  const auto fail = [&](const std::string& what) {
    throw RuntimeError("cannot copy " + from + " to " + to + ": " + what + ": " +
                       std::strerror(errno));
  };
  // Closed on every way out; the target's close is checked on the way that succeeds.
  struct Descriptor {
    int fd;
    ~Descriptor() {
      if (fd >= 0) ::close(fd);
    }
  };
  const Descriptor source{::open(from.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (source.fd < 0) fail("cannot open " + from);
  Descriptor target{
      ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644)};
  if (target.fd < 0) fail("cannot create " + to);
  std::vector<char> buffer(1 << 20);
  for (ssize_t got; (got = ::read(source.fd, buffer.data(), buffer.size())) != 0;) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail("reading");
    for (ssize_t put = 0, wrote; put < got; put += wrote)
      if ((wrote = ::write(target.fd, buffer.data() + put, static_cast<size_t>(got - put))) < 0) {
        if (errno != EINTR) fail("writing");
        wrote = 0;
      }
  }
  const int fd = std::exchange(target.fd, -1);
  if (::close(fd) != 0) fail("closing");
}

}  // namespace cdl::sim
