// Whole-file copies and identities for `cdl analyze`'s in-place analysis: it writes a copy of
// FILE and replaces FILE only if FILE is still the file it read.
#pragma once

#include <sys/stat.h>

#include <string>

namespace cdl::sim {

// What identifies the content of a file without reading it: an in-place analysis replaces FILE
// only if it is still the one that was analysed.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  timespec modified{}, changed{};
  bool operator==(const FileIdentity& other) const {
    const auto same = [](const timespec& a, const timespec& b) {
      return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
    };
    return device == other.device && inode == other.inode && size == other.size &&
           same(modified, other.modified) && same(changed, other.changed);
  }
};

// The identity of `path`; unset (all zero) if it cannot be read.
FileIdentity identity_of(const std::string& path);

// Copies `from` to `to` (created or truncated, never through a link); throws cdl::RuntimeError
// naming the cause (a full disk, the file-size limit).
void copy_whole_file(const std::string& from, const std::string& to);

}  // namespace cdl::sim
