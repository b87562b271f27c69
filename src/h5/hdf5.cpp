#include "h5/hdf5.hpp"

#include <hdf5_hl.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "base/errors.hpp"

namespace cdl::h5 {

namespace {

std::atomic<bool> any_write_failed{false};

// HDF5's own account of the last failure, from the innermost entry of its error stack: the
// system's message when the file driver quotes one (e.g. "No space left on device"), else the
// minor error's text. The stack is cleared for the next call.
std::string library_reason() {
  std::string reason;
  const auto innermost = [](unsigned, const H5E_error2_t* error, void* out) -> herr_t {
    auto& text = *static_cast<std::string*>(out);
    if (!text.empty()) return 0;
    const std::string description = error->desc ? error->desc : "";
    const std::string quote = "error message = '";
    const auto start = description.find(quote);
    if (start != std::string::npos) {
      const auto end = description.find('\'', start + quote.size());
      text = description.substr(start + quote.size(), end - start - quote.size());
    } else {
      char minor[256] = "";
      if (H5Eget_msg(error->min_num, nullptr, minor, sizeof minor) > 0) text = minor;
      if (text.empty()) text = description;
    }
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &reason);
  H5Eclear2(H5E_DEFAULT);
  for (char& c : reason)
    if (c == '\n' || c == '\r') c = ' ';  // errors are reported on one line
  return reason;
}

// A failed call: the library may now hold objects it cannot close (write_failed()).
[[noreturn]] void fail(const std::string& what) {
  any_write_failed.store(true);
  const std::string reason = library_reason();
  throw RuntimeError("HDF5: " + what + " failed" + (reason.empty() ? "" : ": " + reason));
}

hid_t check(hid_t id, const std::string& what) {
  if (id < 0) fail(what);
  return id;
}

void check_status(herr_t status, const std::string& what) {
  if (status < 0) fail(what);
}

// Silences the library's own error stack printing: failures surface as exceptions.
void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Handle utf8_string_type() {
  Handle type(check(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
  check_status(H5Tset_size(type.id(), H5T_VARIABLE), "H5Tset_size");
  check_status(H5Tset_cset(type.id(), H5T_CSET_UTF8), "H5Tset_cset");
  return type;
}

Handle simple_space(const Dims& dims) {
  return Handle(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                      "H5Screate_simple"),
                H5Sclose);
}

void write_attribute(hid_t object, const std::string& name, hid_t type, const Handle& space,
                     const void* data) {
  if (H5Aexists(object, name.c_str()) > 0)
    check_status(H5Adelete(object, name.c_str()), "H5Adelete");
  Handle attribute(
      check(H5Acreate2(object, name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT),
            "creating attribute " + name),
      H5Aclose);
  check_status(H5Awrite(attribute.id(), type, data), "writing attribute " + name);
}

Handle open_attribute(hid_t object, const std::string& name) {
  return Handle(check(H5Aopen(object, name.c_str(), H5P_DEFAULT), "opening attribute " + name),
                H5Aclose);
}

// A number attribute of `type_class` holding exactly one value: a read of anything else would
// write past the one value it is read into.
Handle open_number_attribute(hid_t object, const std::string& name, H5T_class_t type_class,
                             const char* kind) {
  Handle attribute = open_attribute(object, name);
  const Handle space(check(H5Aget_space(attribute.id()), "H5Aget_space"), H5Sclose);
  const Handle stored(check(H5Aget_type(attribute.id()), "H5Aget_type"), H5Tclose);
  if (H5Sget_simple_extent_npoints(space.id()) != 1 || H5Tget_class(stored.id()) != type_class)
    throw RuntimeError("attribute " + name + " is not one " + kind);
  return attribute;
}

}  // namespace

Handle::Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = std::exchange(other.id_, H5I_INVALID_HID);
    closer_ = std::exchange(other.closer_, nullptr);
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && closer_) closer_(id_);
  id_ = H5I_INVALID_HID;
  closer_ = nullptr;
}

// ---- attributes ----------------------------------------------------------------------------

void Object::set_attribute(const std::string& name, const std::string& value) const {
  const Handle type = utf8_string_type();
  const Handle space(check(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose);
  const char* text = value.c_str();
  write_attribute(id(), name, type.id(), space, &text);
}

void Object::set_attribute(const std::string& name, double value) const {
  const Handle space(check(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose);
  write_attribute(id(), name, H5T_NATIVE_DOUBLE, space, &value);
}

void Object::set_attribute(const std::string& name, std::int64_t value) const {
  const Handle space(check(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose);
  write_attribute(id(), name, H5T_NATIVE_INT64, space, &value);
}

void Object::set_attribute(const std::string& name, std::span<const std::int32_t> values) const {
  const Handle space = simple_space({values.size()});
  write_attribute(id(), name, H5T_NATIVE_INT32, space, values.data());
}

bool Object::has_attribute(const std::string& name) const {
  return H5Aexists(id(), name.c_str()) > 0;
}

std::string Object::string_attribute(const std::string& name) const {
  const Handle attribute = open_attribute(id(), name);
  const Handle stored(check(H5Aget_type(attribute.id()), "H5Aget_type"), H5Tclose);
  if (H5Tget_class(stored.id()) != H5T_STRING)
    throw RuntimeError("attribute " + name + " is not a string");
  if (H5Tis_variable_str(stored.id()) > 0) {
    const Handle type = utf8_string_type();
    char* text = nullptr;
    check_status(H5Aread(attribute.id(), type.id(), &text), "reading attribute " + name);
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  std::string value(H5Tget_size(stored.id()), '\0');
  check_status(H5Aread(attribute.id(), stored.id(), value.data()), "reading attribute " + name);
  return value.substr(0, value.find('\0'));
}

double Object::double_attribute(const std::string& name) const {
  const Handle attribute = open_number_attribute(id(), name, H5T_FLOAT, "floating-point number");
  double value = 0;
  check_status(H5Aread(attribute.id(), H5T_NATIVE_DOUBLE, &value), "reading attribute " + name);
  return value;
}

std::int64_t Object::integer_attribute(const std::string& name) const {
  const Handle attribute = open_number_attribute(id(), name, H5T_INTEGER, "integer");
  std::int64_t value = 0;
  check_status(H5Aread(attribute.id(), H5T_NATIVE_INT64, &value), "reading attribute " + name);
  return value;
}

std::vector<std::string> Object::attribute_names() const {
  H5O_info_t info;
  check_status(H5Oget_info2(id(), &info, H5O_INFO_NUM_ATTRS), "H5Oget_info");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    const auto name_at = [&](char* buffer, std::size_t size) {
      const ssize_t length =
          H5Aget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, buffer, size, H5P_DEFAULT);
      if (length < 0) check_status(-1, "H5Aget_name_by_idx");
      return static_cast<std::size_t>(length);
    };
    const std::size_t length = name_at(nullptr, 0);
    std::string name(length + 1, '\0');
    name_at(name.data(), name.size());
    name.resize(length);
    names.push_back(name);
  }
  return names;
}

// ---- datasets ------------------------------------------------------------------------------

Dims Dataset::dims() const {
  const Handle space(check(H5Dget_space(id()), "H5Dget_space"), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.id());
  Dims dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  return dims;
}

std::string Dataset::name() const {
  const ssize_t length = H5Iget_name(id(), nullptr, 0);
  std::string path(static_cast<std::size_t>(length) + 1, '\0');
  H5Iget_name(id(), path.data(), path.size());
  path.resize(static_cast<std::size_t>(length));
  return path.substr(path.rfind('/') + 1);
}

template <class T>
void Dataset::write(std::span<const T> data) const {
  check_status(H5Dwrite(id(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()),
               "writing dataset " + name());
}

template <class T>
void Dataset::write_block(const Dims& offset, const Dims& count, std::span<const T> data) const {
  const Handle file_space(check(H5Dget_space(id()), "H5Dget_space"), H5Sclose);
  check_status(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, offset.data(), nullptr,
                                   count.data(), nullptr),
               "selecting a block of " + name());
  const Handle memory_space = simple_space(count);
  check_status(H5Dwrite(id(), native_type<T>(), memory_space.id(), file_space.id(), H5P_DEFAULT,
                        data.data()),
               "writing a block of " + name());
}

template <class T>
std::vector<T> Dataset::read() const {
  std::size_t size = 1;
  for (hsize_t d : dims()) size *= d;
  std::vector<T> values(size);
  check_status(H5Dread(id(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
               "reading dataset " + name());
  return values;
}

hid_t Dataset::stored_type_class() const {
  const Handle type(check(H5Dget_type(id()), "H5Dget_type"), H5Tclose);
  return H5Tget_class(type.id());
}

std::size_t Dataset::stored_type_size() const {
  const Handle type(check(H5Dget_type(id()), "H5Dget_type"), H5Tclose);
  return H5Tget_size(type.id());
}

bool Dataset::same_stored_type(const Dataset& other) const {
  const Handle mine(check(H5Dget_type(id()), "H5Dget_type"), H5Tclose);
  const Handle theirs(check(H5Dget_type(other.id()), "H5Dget_type"), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(mine.id());
  if (type_class != H5Tget_class(theirs.id()) || H5Tget_size(mine.id()) != H5Tget_size(theirs.id()))
    return false;
  return type_class != H5T_INTEGER || H5Tget_sign(mine.id()) == H5Tget_sign(theirs.id());
}

bool Dataset::has_stored_values() const {
  H5D_space_status_t status;
  check_status(H5Dget_space_status(id(), &status), "H5Dget_space_status");
  return status == H5D_SPACE_STATUS_ALLOCATED;
}

bool Dataset::is_scale() const { return H5DSis_scale(id()) > 0; }

void Dataset::make_scale(const std::string& name) const {
  check_status(H5DSset_scale(id(), name.c_str()), "H5DSset_scale " + name);
}

void Dataset::attach_to(const Dataset& target, unsigned dim) const {
  check_status(H5DSattach_scale(target.id(), id(), dim), "H5DSattach_scale");
}

std::vector<std::string> Dataset::scale_names() const {
  std::vector<std::string> names;
  const auto rank = dims().size();
  for (unsigned dim = 0; dim < rank; ++dim) {
    std::string found;
    H5DSiterate_scales(
        id(), dim, nullptr,
        [](hid_t, unsigned, hid_t scale, void* out) -> herr_t {
          char buffer[256] = {0};
          H5DSget_scale_name(scale, buffer, sizeof buffer);
          *static_cast<std::string*>(out) = buffer;
          return 1;
        },
        &found);
    names.push_back(found);
  }
  return names;
}

// ---- groups --------------------------------------------------------------------------------

Group Group::create_group(const std::string& name) const {
  return Group(Handle(check(H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                            "creating group " + name),
                      H5Gclose));
}

Group Group::open_group(const std::string& name) const {
  return Group(
      Handle(check(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), "opening group " + name), H5Gclose));
}

bool Group::has_link(const std::string& name) const {
  return H5Lexists(id(), name.c_str(), H5P_DEFAULT) > 0;
}

bool Group::is_group(const std::string& name) const {
  H5O_info_t info;
  if (H5Oget_info_by_name2(id(), name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
    return false;
  return info.type == H5O_TYPE_GROUP;
}

std::vector<std::string> Group::link_names() const {
  std::vector<std::string> names;
  H5Literate(
      id(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
        static_cast<std::vector<std::string>*>(out)->push_back(name);
        return 0;
      },
      &names);
  return names;
}

namespace {

// A layout built in memory only to be compared with a file (File::create_in_memory) allocates
// no chunks: its size is that of the metadata, whatever the sweep's.
bool is_in_memory(hid_t object) {
  const Handle file(check(H5Iget_file_id(object), "H5Iget_file_id"), H5Fclose);
  const Handle access(check(H5Fget_access_plist(file.id()), "H5Fget_access_plist"), H5Pclose);
  return H5Pget_driver(access.id()) == H5FD_CORE;
}

}  // namespace

template <class T>
Dataset Group::create_dataset(const std::string& name, const Dims& dims,
                              const DatasetOptions& options) const {
  const Handle space = simple_space(dims);
  const Handle properties(check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"), H5Pclose);
  if (!options.chunk.empty()) {
    check_status(
        H5Pset_chunk(properties.id(), static_cast<int>(options.chunk.size()), options.chunk.data()),
        "H5Pset_chunk");
    if (options.deflate_level > 0) {
      check_status(H5Pset_shuffle(properties.id()), "H5Pset_shuffle");
      check_status(H5Pset_deflate(properties.id(), static_cast<unsigned>(options.deflate_level)),
                   "H5Pset_deflate");
    } else if (!is_in_memory(id())) {
      // Every chunk allocated now: later writes change raw data in place, never metadata.
      check_status(H5Pset_alloc_time(properties.id(), H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time");
    }
  }
  if (options.has_fill) {
    const T fill = static_cast<T>(options.fill_double);
    check_status(H5Pset_fill_value(properties.id(), native_type<T>(), &fill), "H5Pset_fill_value");
    check_status(H5Pset_fill_time(properties.id(), H5D_FILL_TIME_ALLOC), "H5Pset_fill_time");
  }
  return Dataset(Handle(check(H5Dcreate2(id(), name.c_str(), native_type<T>(), space.id(),
                                         H5P_DEFAULT, properties.id(), H5P_DEFAULT),
                              "creating dataset " + name),
                        H5Dclose));
}

void Group::remove(const std::string& name) const {
  check_status(H5Ldelete(id(), name.c_str(), H5P_DEFAULT), "removing " + name);
}

Dataset Group::open_dataset(const std::string& name) const {
  return Dataset(Handle(check(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), "opening dataset " + name),
                        H5Dclose));
}

template <class T>
Dataset Group::create_scale(const std::string& name, std::span<const T> values) const {
  Dataset scale = create_dataset<T>(name, {values.size()});
  scale.write<T>(values);
  scale.make_scale(name);
  return scale;
}

// ---- files ---------------------------------------------------------------------------------

namespace {

// File access without a raw-data chunk cache: every write reaches the file when it is made,
// in program order, so a point's data are on disk before the status that declares it done.
Handle write_through() {
  Handle access(check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"), H5Pclose);
  check_status(H5Pset_cache(access.id(), 0, 0, 0, 0.75), "H5Pset_cache");
  return access;
}

}  // namespace

File File::create(const std::string& path) {
  silence_hdf5_errors();
  File file;
  file.handle_ =
      Handle(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, write_through().id()),
                   "creating " + path),
             H5Fclose);
  file.path_ = path;
  return file;
}

File File::create_in_memory() {
  silence_hdf5_errors();
  // HDF5 refuses two open files of one name, so every in-memory file gets its own.
  static std::atomic<long> counter{0};
  const std::string name = "cdl-in-memory-" + std::to_string(counter.fetch_add(1));
  const Handle access(check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"), H5Pclose);
  check_status(H5Pset_fapl_core(access.id(), 1 << 16, false), "H5Pset_fapl_core");
  File file;
  file.handle_ = Handle(
      check(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.id()), "creating " + name),
      H5Fclose);
  file.path_ = name;
  return file;
}

namespace {
std::atomic<bool> reading_without_locks{false};
}  // namespace

void read_without_file_locks() { reading_without_locks = true; }

namespace {
// HDF5 opens a FIFO and waits for a writer, forever: only regular files are opened (a path
// that does not exist is left to HDF5's own message).
void require_regular_file(const std::string& path) {
  struct stat status;
  if (::stat(path.c_str(), &status) == 0 && !S_ISREG(status.st_mode))
    throw RuntimeError("HDF5: opening " + path +
                       " failed: not a regular file (a directory, FIFO, device or socket)");
}
}  // namespace

File File::open_read_only(const std::string& path) {
  require_regular_file(path);
  silence_hdf5_errors();
  const Handle access(check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"), H5Pclose);
  if (reading_without_locks)
    check_status(H5Pset_file_locking(access.id(), false, true), "H5Pset_file_locking");
  File file;
  file.handle_ = Handle(
      check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.id()), "opening " + path), H5Fclose);
  file.path_ = path;
  return file;
}

File File::open_read_write(const std::string& path) {
  require_regular_file(path);
  silence_hdf5_errors();
  File file;
  file.handle_ =
      Handle(check(H5Fopen(path.c_str(), H5F_ACC_RDWR, write_through().id()), "opening " + path),
             H5Fclose);
  file.path_ = path;
  return file;
}

Group File::root() const {
  return Group(Handle(check(H5Gopen2(handle_.id(), "/", H5P_DEFAULT), "opening /"), H5Gclose));
}

bool write_failed() { return any_write_failed.load(); }

void File::check_metadata() const {
  const auto visit = [](hid_t, const char*, const H5O_info_t*, void*) -> herr_t { return 0; };
  if (H5Ovisit2(handle_.id(), H5_INDEX_NAME, H5_ITER_NATIVE, visit, nullptr, H5O_INFO_ALL) < 0)
    throw RuntimeError("HDF5: the metadata of " + path_ + " is damaged");
  // cdl writes hard links only. A soft or external link would make a read (or a --resume's
  // write) reach another object, or another file: refused by name. H5Lvisit does not follow
  // such links, so a loop or a dangling one cannot stall the walk.
  std::string link;
  const auto refuse_links = [](hid_t, const char* name, const H5L_info_t* info,
                               void* found) -> herr_t {
    if (info->type == H5L_TYPE_HARD) return 0;
    *static_cast<std::string*>(found) =
        std::string("/") + name +
        (info->type == H5L_TYPE_SOFT ? " is a soft link" : " is an external link");
    return 1;  // stop: one is enough
  };
  const herr_t walked = H5Lvisit(handle_.id(), H5_INDEX_NAME, H5_ITER_NATIVE, refuse_links, &link);
  if (walked < 0) throw RuntimeError("HDF5: the links of " + path_ + " are damaged");
  if (!link.empty()) throw RuntimeError(link + " (a cdl file holds no links)");
}

void File::flush() const {
  errno = 0;
  if (H5Fflush(handle_.id(), H5F_SCOPE_GLOBAL) < 0) {
    any_write_failed.store(true);
    throw RuntimeError("HDF5: writing " + path_ + " failed" +
                       (errno ? std::string(": ") + std::strerror(errno) : std::string()));
  }
}

void File::close() {
  if (handle_.id() < 0) return;
  flush();
  errno = 0;
  const hid_t id = handle_.id();
  if (H5Fclose(id) < 0) {
    any_write_failed.store(true);
    throw RuntimeError("HDF5: closing " + path_ + " failed" +
                       (errno ? std::string(": ") + std::strerror(errno) : std::string()));
  }
  handle_.release();
}

#define CDL_INSTANTIATE(T)                                                                   \
  template void Dataset::write<T>(std::span<const T>) const;                                 \
  template void Dataset::write_block<T>(const Dims&, const Dims&, std::span<const T>) const; \
  template std::vector<T> Dataset::read<T>() const;                                          \
  template Dataset Group::create_dataset<T>(const std::string&, const Dims&,                 \
                                            const DatasetOptions&) const;                    \
  template Dataset Group::create_scale<T>(const std::string&, std::span<const T>) const;
CDL_INSTANTIATE(double)
CDL_INSTANTIATE(std::int64_t)
CDL_INSTANTIATE(std::int32_t)
CDL_INSTANTIATE(std::int8_t)
#undef CDL_INSTANTIATE

}  // namespace cdl::h5
