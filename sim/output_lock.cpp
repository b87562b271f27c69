#include "output_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/parse.hpp"

namespace cdl::sim {

std::string OutputLock::path_for(const std::string& output) {
  const std::string suffix = ".part";
  std::string base = output;
  if (base.size() > suffix.size() &&
      base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0)
    base.resize(base.size() - suffix.size());
  return base + ".lock";
}

bool names_directory(const std::string& output) {
  const std::filesystem::path path(output);
  return !path.has_filename() || path.filename() == "." || path.filename() == "..";
}

OutputLock::OutputLock(const std::string& output, const std::string& option)
    : path_(path_for(output)) {
  // Refused before the lock's directory is created: "new/" would otherwise leave new/ behind.
  if (names_directory(output)) base::reject(option, output, "names a directory, not a file");
  // The lock file goes where the output will: its directory is created as the output's would be.
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  std::error_code failure;
  if (!parent.empty()) std::filesystem::create_directories(parent, failure);
  if (failure) base::reject(option, output, "cannot create its directory: " + failure.message());
  // A holder removes the lock file when it is done; a process that opened the old file just
  // before that would lock a name that no longer exists, so the lock only counts if the name
  // still leads to the locked file (else: try again with the new one).
  for (int attempt = 0; attempt < 10; ++attempt) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      const int error = errno;
      if (error == ELOOP) base::reject(option, output, "its lock file " + path_ + " is a symlink");
      base::reject(option, output,
                   "cannot open its lock file " + path_ + ": " + std::strerror(error));
    }
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;  // the whole file (l_start = l_len = 0)
    if (::fcntl(fd_, F_SETLK, &lock) != 0) {
      const int error = errno;
      struct flock holder {};
      holder.l_type = F_WRLCK;
      holder.l_whence = SEEK_SET;
      const bool known = ::fcntl(fd_, F_GETLK, &holder) == 0 && holder.l_type != F_UNLCK;
      ::close(fd_);
      fd_ = -1;
      if (error == EACCES || error == EAGAIN)
        base::reject(option, output,
                     "in use by process " + (known ? std::to_string(holder.l_pid) : "unknown") +
                         " (lock " + path_ + "); wait for it or stop it");
      base::reject(option, output, "cannot lock " + path_ + ": " + std::strerror(error));
    }
    struct stat locked {
    }, named{};
    if (::fstat(fd_, &locked) == 0 && ::lstat(path_.c_str(), &named) == 0 &&
        locked.st_dev == named.st_dev && locked.st_ino == named.st_ino)
      return;
    ::close(fd_);
    fd_ = -1;
  }
  base::reject(option, output, "could not lock " + path_ + ": it keeps being replaced");
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still held: see the constructor
  ::close(fd_);             // releases the lock
}

}  // namespace cdl::sim
