// One owner per output: an exclusive advisory lock held while a command writes an output.
//
// The lock is a POSIX record lock (fcntl F_SETLK) on OUTPUT.lock beside the output (for
// OUTPUT.part the same OUTPUT.lock). fcntl rather than flock: fcntl locks are the ones NFS
// (lockd, NFSv4) and the parallel file systems of clusters implement across hosts, and the
// kernel releases them when the holder dies, so a SIGKILLed run never blocks its --resume (its
// lock file stays behind, harmless). The holder removes the lock file when done, before it lets
// go; a contender checks that the name it locked still leads to its file. Only this object opens
// the lock file, so no other close in the process releases the lock.
#pragma once

#include <string>

namespace cdl::sim {

// "new/", "dir/." or "..": the path names a directory, not a file to write.
bool names_directory(const std::string& output);

class OutputLock {
 public:
  // Takes the lock for `output`; a holder elsewhere, or a symlink at OUTPUT.lock, is bad input
  // for `option` (cdl::InputError naming the holder's process).
  OutputLock(const std::string& output, const std::string& option);
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock();

  // OUTPUT.lock for OUTPUT and OUTPUT.part alike.
  static std::string path_for(const std::string& output);

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace cdl::sim
