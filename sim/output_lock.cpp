#include "output_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/parse.hpp"

namespace cdl::sim {

namespace {

// OUTPUT for OUTPUT and OUTPUT.part alike.
std::string base_output(const std::string& output) {
  const std::string suffix = ".part";
  std::string base = output;
  if (base.size() > suffix.size() &&
      base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0)
    base.resize(base.size() - suffix.size());
  return base;
}

}  // namespace

std::string OutputLock::path_for(const std::string& output) {
  return base_output(output) + ".lock";
}

bool names_directory(const std::string& output) {
  const std::filesystem::path path(output);
  return !path.has_filename() || path.filename() == "." || path.filename() == "..";
}

void stop_here_for_test(const char* point) {
  const char* wanted = std::getenv("CDL_TEST_STOP_AT");
  if (wanted && std::strcmp(wanted, point) == 0) ::raise(SIGSTOP);
}

namespace {

// Whether another open file description holds a lock on the regular file at `path` (no file,
// or not a regular one: no). Opened without blocking and without following a link.
bool held_elsewhere(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat status {};
  struct flock probe {};
  probe.l_type = F_WRLCK;  // conflicts with any lock
  probe.l_whence = SEEK_SET;
  const bool held = ::fstat(fd, &status) == 0 && S_ISREG(status.st_mode) &&
                    ::fcntl(fd, F_OFD_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
  ::close(fd);
  return held;
}

}  // namespace

OutputLock::OutputLock(const std::string& output, const std::string& option)
    : path_(path_for(output)), output_(output), option_(option) {
  stop_here_for_test("locking");
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
      break;
    ::close(fd_);
    fd_ = -1;
  }
  if (fd_ < 0)
    base::reject(option, output, "could not lock " + path_ + ": it keeps being replaced");
  // Someone removed the lock file of a run that still writes: its files tell.
  for (const std::string& file : {output_, base_output(output_) + ".part"})
    if (held_elsewhere(file)) {
      release();
      base::reject(option, output,
                   "in use by another process, which is writing or replacing " + file +
                       " although its lock file " + path_ + " is gone; wait for it or stop it");
    }
  stop_here_for_test("locked");
}

void OutputLock::check_free(const std::string& output, const std::string& option) {
  if (names_directory(output)) base::reject(option, output, "names a directory, not a file");
  const std::string path = path_for(output);
  std::error_code error;
  if (std::filesystem::is_symlink(path, error))
    base::reject(option, output, "its lock file " + path + " is a symlink");
  if (const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
      fd >= 0) {
    struct flock holder {};
    holder.l_type = F_WRLCK;
    holder.l_whence = SEEK_SET;
    const bool held = ::fcntl(fd, F_GETLK, &holder) == 0 && holder.l_type != F_UNLCK;
    ::close(fd);
    if (held)
      base::reject(option, output,
                   "in use by process " + std::to_string(holder.l_pid) + " (lock " + path +
                       "); wait for it or stop it");
  }
  for (const std::string& file : {output, base_output(output) + ".part"})
    if (held_elsewhere(file))
      base::reject(option, output,
                   "in use by another process, which is writing or replacing " + file);
}

void OutputLock::hold(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) base::reject(option_, output_, "cannot open " + path + ": " + std::strerror(errno));
  held_.push_back(fd);  // closed with the lock, also when refused below
  struct flock lock {};
  lock.l_type = F_RDLCK;  // a read lock needs only a read-only descriptor
  lock.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_SETLK, &lock) != 0)
    base::reject(option_, output_,
                 errno == EAGAIN || errno == EACCES
                     ? "in use by another process, which is writing or replacing " + path
                     : "cannot lock " + path + ": " + std::strerror(errno));
}

void OutputLock::release() {
  for (const int fd : held_) ::close(fd);
  held_.clear();
  if (fd_ < 0) return;
  // Removed while still held (see the constructor), and only if the name still leads to this
  // lock: a lock file that replaced it belongs to another run.
  struct stat locked {
  }, named{};
  if (::fstat(fd_, &locked) == 0 && ::lstat(path_.c_str(), &named) == 0 &&
      locked.st_dev == named.st_dev && locked.st_ino == named.st_ino)
    ::unlink(path_.c_str());
  ::close(fd_);  // releases the lock
  fd_ = -1;
}

OutputLock::~OutputLock() { release(); }

}  // namespace cdl::sim
