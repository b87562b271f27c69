// A thin RAII layer over the HDF5 C API and its dimension-scale API (H5DS): just what the
// output contract needs — files (on disk, or in memory for reference layouts), groups, chunked
// datasets (compressed, or uncompressed with every chunk allocated at creation), hyperslab writes,
// attributes, dimension scales — and the matching reads.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/errors.hpp"

namespace cdl::h5 {

// A failed HDF5 call. what() is one line, "HDF5: <what> failed: <cause>", naming the object;
// cause() is HDF5's own account of it: the innermost reason (the system's message where the
// file driver quotes one, e.g. "No space left on device"), then the whole error stack in
// brackets, from the API call inwards, each entry "function: description (file:line)"; empty
// when HDF5 recorded none. Every failed HDF5 call below throws one; this layer's own refusals (an
// attribute of another type, a soft link, a file that is not a regular one) are RuntimeError.
class Error : public RuntimeError {
 public:
  Error(const std::string& what, std::string cause)
      : RuntimeError(what), cause_(std::move(cause)) {}
  const std::string& cause() const { return cause_; }

 private:
  std::string cause_;
};

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer);
  Handle(Handle&& other) noexcept { *this = std::move(other); }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  hid_t id() const { return id_; }
  void reset();
  void release() { id_ = H5I_INVALID_HID, closer_ = nullptr; }  // already closed elsewhere

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

template <class T>
hid_t native_type();
template <>
inline hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
inline hid_t native_type<std::int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
inline hid_t native_type<std::int32_t>() {
  return H5T_NATIVE_INT32;
}
template <>
inline hid_t native_type<std::int8_t>() {
  return H5T_NATIVE_INT8;
}

using Dims = std::vector<hsize_t>;

// Operations on anything that carries attributes (file root, group, dataset).
class Object {
 public:
  hid_t id() const { return handle_.id(); }
  void set_attribute(const std::string& name, const std::string& value) const;
  void set_attribute(const std::string& name, double value) const;
  void set_attribute(const std::string& name, std::int64_t value) const;
  void set_attribute(const std::string& name, std::span<const std::int32_t> values) const;
  bool has_attribute(const std::string& name) const;
  std::string string_attribute(const std::string& name) const;
  // One number, of a floating-point (double_attribute) or integer (integer_attribute) type.
  double double_attribute(const std::string& name) const;
  std::int64_t integer_attribute(const std::string& name) const;
  std::vector<std::string> attribute_names() const;

 protected:
  Object() = default;
  explicit Object(Handle handle) : handle_(std::move(handle)) {}
  Handle handle_;
};

class Dataset : public Object {
 public:
  Dataset() = default;
  // `name`: the link it was opened or created by (last path component).
  Dataset(Handle handle, std::string name) : Object(std::move(handle)), name_(std::move(name)) {}
  Dims dims() const;
  const std::string& name() const { return name_; }  // the link name (last path component)
  // Whole-dataset and hyperslab I/O in the dataset's row-major layout.
  template <class T>
  void write(std::span<const T> data) const;
  template <class T>
  void write_block(const Dims& offset, const Dims& count, std::span<const T> data) const;
  template <class T>
  std::vector<T> read() const;
  H5T_class_t stored_type_class() const;  // H5T_FLOAT, H5T_INTEGER, …
  std::size_t stored_type_size() const;   // bytes per element
  // The same class, size and (for integers) sign: float32 is not float64, int16 not int8.
  bool same_stored_type(const Dataset& other) const;
  // Whether values were written (an in-memory layout holds only those it was given).
  bool has_stored_values() const;
  bool is_scale() const;
  // Marks this 1-D dataset as the dimension scale `name` and attaches it to dimension `dim`
  // of `target`.
  void make_scale(const std::string& name) const;
  void attach_to(const Dataset& target, unsigned dim) const;
  // Names of the scales attached to each dimension (empty where none).
  std::vector<std::string> scale_names() const;

 private:
  std::string name_;
};

struct DatasetOptions {
  Dims chunk;             // empty: contiguous
  int deflate_level = 4;  // applied with the shuffle filter when chunked; 0: uncompressed, and
                          // every chunk allocated at creation
  bool has_fill = false;
  double fill_double = 0;  // converted to the dataset type
};

class Group : public Object {
 public:
  Group() = default;
  explicit Group(Handle handle) : Object(std::move(handle)) {}
  Group create_group(const std::string& name) const;
  Group open_group(const std::string& name) const;
  void remove(const std::string& name) const;  // unlinks a member
  bool has_link(const std::string& name) const;
  std::vector<std::string> link_names() const;
  bool is_group(const std::string& name) const;
  template <class T>
  Dataset create_dataset(const std::string& name, const Dims& dims,
                         const DatasetOptions& options = {}) const;
  Dataset open_dataset(const std::string& name) const;
  // A 1-D dataset holding `values`, made a dimension scale of the same name.
  template <class T>
  Dataset create_scale(const std::string& name, std::span<const T> values) const;
};

// Whether an HDF5 call that writes to a file (creating a file or an object, writing data or an
// attribute, removing a link, flushing, closing) failed in this process (a full disk): HDF5 may
// then still hold objects it cannot close, and its exit-time cleanup can crash on them, so the
// process should end with std::_Exit. A failed read or open does not count: it leaves nothing
// behind.
bool write_failed();

// From now on, files opened read-only do not take HDF5's file lock, so that they can be read
// while another process writes them (`cdl info` on a running shard's .part). Safe for cdl's
// files: their metadata never changes once the layout is sealed, and a point's status byte
// is written after its values.
void read_without_file_locks();

class File {
 public:
  // Creates (truncating) a file; throws h5::Error on failure.
  static File create(const std::string& path);
  // A file that exists only in this process's memory and allocates no chunks: a layout to
  // compare other files with.
  static File create_in_memory();
  static File open_read_only(const std::string& path);
  static File open_read_write(const std::string& path);
  Group root() const;
  // Decodes the metadata of every object in the file (headers, attributes, group indexes) and
  // throws h5::Error at the first that is damaged, or cdl::RuntimeError at the first soft or
  // external link: a file read in part only could otherwise pass for sound.
  void check_metadata() const;
  void flush() const;
  // Flushes and closes, checked: a failed write that HDF5 only reports now (a full disk) throws
  // h5::Error naming the file, so that nothing is renamed after it. The file is then
  // left open: the process must end without HDF5's exit-time cleanup (sim/main.cpp).
  void close();

 private:
  Handle handle_;
  std::string path_;
};

}  // namespace cdl::h5
