// One owner per output: an exclusive advisory lock held while a command writes an output.
//
// The lock is a POSIX record lock (fcntl F_SETLK) on OUTPUT.lock beside the output (for
// OUTPUT.part the same OUTPUT.lock). fcntl rather than flock: fcntl locks are the ones NFS
// (lockd, NFSv4) and the parallel file systems of clusters implement across hosts, and the
// kernel releases them when the holder dies, so a SIGKILLed run never blocks its --resume (its
// lock file stays behind, harmless). The holder removes the lock file when done, before it lets
// go; a contender checks that the name it locked still leads to its file. Only this object opens
// the lock file, so no other close in the process releases the lock.
//
// The lock file is only a name: removed or replaced by hand while a run holds it, a second run
// could take a new one. So the holder also locks the file it writes (hold(): an open-file-
// description lock, which survives renames and HDF5 closing its own descriptors), and a
// contender refuses an OUTPUT or OUTPUT.part that another process holds.
#pragma once

#include <string>
#include <vector>

namespace cdl::sim {

// "new/", "dir/." or "..": the path names a directory, not a file to write.
bool names_directory(const std::string& output);

// Test hook: with CDL_TEST_STOP_AT=POINT in the environment the process stops itself
// (SIGSTOP) at POINT ("locking": about to take the output lock; "locked": just taken it;
// "replacing": about to rename the finished file onto its target), so that a test can run a second
// command at exactly that moment and then continue the first (SIGCONT). Does nothing otherwise.
void stop_here_for_test(const char* point);

class OutputLock {
 public:
  // Takes the lock for `output`; a holder elsewhere, a symlink at OUTPUT.lock, or an OUTPUT or
  // OUTPUT.part held by another process is bad input for `option` (cdl::InputError naming the
  // holder).
  OutputLock(const std::string& output, const std::string& option);
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock();

  // Locks the file at `path` (being written, or about to be replaced) until this lock ends,
  // whatever it is renamed to. Another process holding it is bad input for the option.
  void hold(const std::string& path);

  // OUTPUT.lock for OUTPUT and OUTPUT.part alike.
  static std::string path_for(const std::string& output);

  // What the constructor would refuse, without creating or locking anything (for a dry run):
  // a holder of OUTPUT.lock, OUTPUT or OUTPUT.part, or a symlink at OUTPUT.lock.
  static void check_free(const std::string& output, const std::string& option);

 private:
  void release();

  std::string path_, output_, option_;
  int fd_ = -1;
  std::vector<int> held_;  // descriptors of the files hold() locked
};

}  // namespace cdl::sim
