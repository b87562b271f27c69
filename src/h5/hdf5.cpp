#include "h5/hdf5.hpp"

#include <hdf5_hl.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "base/errors.hpp"

namespace cdl::h5 {

namespace {

std::atomic<bool> any_write_failed{false};

// Errors are reported on one line: HDF5's texts (and the file names they quote) lose their
// control characters.
std::string one_line(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return text;
}

// HDF5's own account of the last failure, read from its error stack, which is then cleared
// for the next call: the innermost entry's reason (the system's message when the file driver
// quotes one, e.g. "No space left on device", else the minor error's text), and every entry
// from the API call inwards, "function: description (file:line)". Read on the failure path only.
struct Account {
  std::string reason;
  std::string stack;
  // "REASON [STACK]", on one line ("" when HDF5 recorded nothing); `reason` replaces HDF5's.
  std::string text(const std::string& own_reason = "") const {
    const std::string& first = own_reason.empty() ? reason : own_reason;
    return one_line(stack.empty() ? first : first + " [" + stack + "]");
  }
};

Account library_account() {
  struct Walk {
    Account account;
    std::string innermost_description;
    hid_t innermost_minor = H5I_INVALID_HID;
  } walk;
  const auto visit = [](unsigned, const H5E_error2_t* error, void* out) -> herr_t {
    auto& walk = *static_cast<Walk*>(out);
    const std::string description = error->desc ? error->desc : "";
    std::string& stack = walk.account.stack;
    if (!stack.empty()) stack += "; ";
    const std::string file = error->file_name ? error->file_name : "?";  // HDF5's source file
    stack += std::string(error->func_name ? error->func_name : "?") + ": " + description + " (" +
             file.substr(file.rfind('/') + 1) + ":" + std::to_string(error->line) + ")";
    walk.innermost_description = description;  // walking downward: the last is the innermost
    walk.innermost_minor = error->min_num;
    return 0;
  };
  // The walk and the clearing are the failure path's own: should they fail, the message goes
  // without HDF5's account.
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, visit, &walk);
  std::string& reason = walk.account.reason;
  const std::string& description = walk.innermost_description;
  const std::string quote = "error message = '";
  const auto start = description.find(quote);
  if (start != std::string::npos) {
    const auto end = description.find('\'', start + quote.size());
    reason = description.substr(start + quote.size(), end - start - quote.size());
  } else if (!walk.account.stack.empty()) {
    char minor[256] = "";
    if (H5Eget_msg(walk.innermost_minor, nullptr, minor, sizeof minor) > 0) reason = minor;
    if (reason.empty()) reason = description;
  }
  H5Eclear2(H5E_DEFAULT);
  return walk.account;
}

// What failed, as a text; given as one (a literal) or as a callable that makes it: messages
// that name an object are made on the failure path only.
template <class What>
std::string text_of(const What& what) {
  if constexpr (std::is_invocable_v<const What&>)
    return what();
  else
    return std::string(what);
}

// Whether a failed call wrote to a file: only then may the library hold objects it cannot
// close (write_failed()).
enum class Access { read, write };

// A failed call, "HDF5: WHAT failed: REASON [STACK]". HDF5's account is taken first: naming the
// object may call HDF5 again. `reason` (errno's text) replaces HDF5's when given.
template <class What>
[[noreturn]] void fail(Access access, const What& what, const std::string& reason = "") {
  const std::string cause = library_account().text(reason);
  if (access == Access::write) any_write_failed.store(true);
  throw Error("HDF5: " + text_of(what) + " failed" + (cause.empty() ? "" : ": " + cause), cause);
}

// A call that reads or only asks (negative: failed) ...
template <class Result, class What>
Result check(Result result, const What& what) {
  if (result < 0) fail(Access::read, what);
  return result;
}

// ... and one that writes to a file.
template <class Result, class What>
Result check_write(Result result, const What& what) {
  if (result < 0) fail(Access::write, what);
  return result;
}

// The HDF5 path of an object, for a failure message only: never throws ("(unnamed)" when HDF5
// cannot tell, e.g. for an identifier that is no longer valid).
std::string path_of(hid_t object) {
  const ssize_t length = H5Iget_name(object, nullptr, 0);
  if (length <= 0) return "(unnamed)";
  std::string path(static_cast<std::size_t>(length) + 1, '\0');
  if (H5Iget_name(object, path.data(), path.size()) < 0) return "(unnamed)";
  path.resize(static_cast<std::size_t>(length));
  return path;
}

// HDF5 prints its error stack to stderr at every failure, and per thread: the library is built
// thread-safe, so each thread (an OpenMP worker writing a sweep's points too) has its own stack
// and its own printing switch. Failures surface as exceptions instead: every entry point below
// first silences its thread.
void quiet() {
  thread_local bool silenced = false;
  if (silenced) return;
  check(H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr), "H5Eset_auto2");
  silenced = true;
}

Handle utf8_string_type() {
  Handle type(check(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
  check(H5Tset_size(type.id(), H5T_VARIABLE), "H5Tset_size");
  check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "H5Tset_cset");
  return type;
}

Handle simple_space(const Dims& dims) {
  return Handle(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                      "H5Screate_simple"),
                H5Sclose);
}

void write_attribute(hid_t object, const std::string& name, hid_t type, const Handle& space,
                     const void* data) {
  if (check(H5Aexists(object, name.c_str()), [&] { return "checking attribute " + name; }) > 0)
    check_write(H5Adelete(object, name.c_str()), [&] { return "H5Adelete of attribute " + name; });
  Handle attribute(
      check_write(H5Acreate2(object, name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT),
                  [&] { return "creating attribute " + name; }),
      H5Aclose);
  check_write(H5Awrite(attribute.id(), type, data), [&] { return "writing attribute " + name; });
}

Handle open_attribute(hid_t object, const std::string& name) {
  return Handle(check(H5Aopen(object, name.c_str(), H5P_DEFAULT),
                      [&] { return "opening attribute " + name; }),
                H5Aclose);
}

// What failed on attribute `name`, made on failure only: attribute_call(name)("H5Aget_type").
auto attribute_call(const std::string& name) {
  return [&name](const char* function) {
    return [&name, function] { return std::string(function) + " of attribute " + name; };
  };
}

// A number attribute of `type_class` holding exactly one value: a read of anything else would
// write past the one value it is read into.
Handle open_number_attribute(hid_t object, const std::string& name, H5T_class_t type_class,
                             const char* kind) {
  Handle attribute = open_attribute(object, name);
  const auto of = attribute_call(name);
  const Handle space(check(H5Aget_space(attribute.id()), of("H5Aget_space")), H5Sclose);
  const Handle stored(check(H5Aget_type(attribute.id()), of("H5Aget_type")), H5Tclose);
  if (check(H5Sget_simple_extent_npoints(space.id()), of("H5Sget_simple_extent_npoints")) != 1 ||
      check(H5Tget_class(stored.id()), of("H5Tget_class")) != type_class)
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

// Unchecked: a destructor cannot throw. A file's written state is checked by File::close.
void Handle::reset() {
  if (id_ >= 0 && closer_) closer_(id_);
  id_ = H5I_INVALID_HID;
  closer_ = nullptr;
}

// ---- attributes ----------------------------------------------------------------------------

void Object::set_attribute(const std::string& name, const std::string& value) const {
  quiet();
  const Handle type = utf8_string_type();
  const Handle space(check(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose);
  const char* text = value.c_str();
  write_attribute(id(), name, type.id(), space, &text);
}

void Object::set_attribute(const std::string& name, double value) const {
  quiet();
  const Handle space(check(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose);
  write_attribute(id(), name, H5T_NATIVE_DOUBLE, space, &value);
}

void Object::set_attribute(const std::string& name, std::int64_t value) const {
  quiet();
  const Handle space(check(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose);
  write_attribute(id(), name, H5T_NATIVE_INT64, space, &value);
}

void Object::set_attribute(const std::string& name, std::span<const std::int32_t> values) const {
  quiet();
  const Handle space = simple_space({values.size()});
  write_attribute(id(), name, H5T_NATIVE_INT32, space, values.data());
}

bool Object::has_attribute(const std::string& name) const {
  quiet();
  return check(H5Aexists(id(), name.c_str()),
               [&] { return "checking attribute " + name + " of " + path_of(id()); }) > 0;
}

std::string Object::string_attribute(const std::string& name) const {
  quiet();
  const Handle attribute = open_attribute(id(), name);
  const auto of = attribute_call(name);
  const Handle stored(check(H5Aget_type(attribute.id()), of("H5Aget_type")), H5Tclose);
  if (check(H5Tget_class(stored.id()), of("H5Tget_class")) != H5T_STRING)
    throw RuntimeError("attribute " + name + " is not a string");
  if (check(H5Tis_variable_str(stored.id()), of("H5Tis_variable_str")) > 0) {
    const Handle type = utf8_string_type();
    char* text = nullptr;
    check(H5Aread(attribute.id(), type.id(), &text), [&] { return "reading attribute " + name; });
    std::string value = text ? text : "";
    check(H5free_memory(text), "H5free_memory");
    return value;
  }
  const std::size_t size = H5Tget_size(stored.id());
  if (size == 0) fail(Access::read, of("H5Tget_size"));
  std::string value(size, '\0');
  check(H5Aread(attribute.id(), stored.id(), value.data()),
        [&] { return "reading attribute " + name; });
  return value.substr(0, value.find('\0'));
}

double Object::double_attribute(const std::string& name) const {
  quiet();
  const Handle attribute = open_number_attribute(id(), name, H5T_FLOAT, "floating-point number");
  double value = 0;
  check(H5Aread(attribute.id(), H5T_NATIVE_DOUBLE, &value),
        [&] { return "reading attribute " + name; });
  return value;
}

std::int64_t Object::integer_attribute(const std::string& name) const {
  quiet();
  const Handle attribute = open_number_attribute(id(), name, H5T_INTEGER, "integer");
  std::int64_t value = 0;
  check(H5Aread(attribute.id(), H5T_NATIVE_INT64, &value),
        [&] { return "reading attribute " + name; });
  return value;
}

std::vector<std::string> Object::attribute_names() const {
  quiet();
  H5O_info_t info;
  check(H5Oget_info2(id(), &info, H5O_INFO_NUM_ATTRS),
        [&] { return "H5Oget_info of " + path_of(id()); });
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    const auto name_at = [&](char* buffer, std::size_t size) {
      return static_cast<std::size_t>(check(
          H5Aget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, buffer, size, H5P_DEFAULT),
          [&] { return "H5Aget_name_by_idx of " + path_of(id()); }));
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
  quiet();
  const Handle space(check(H5Dget_space(id()), [&] { return "H5Dget_space of dataset " + name(); }),
                     H5Sclose);
  const auto what = [&] { return "reading the shape of dataset " + name(); };
  const int rank = check(H5Sget_simple_extent_ndims(space.id()), what);
  Dims dims(static_cast<std::size_t>(rank));
  check(H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr), what);
  return dims;
}

template <class T>
void Dataset::write(std::span<const T> data) const {
  quiet();
  check_write(H5Dwrite(id(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()),
              [&] { return "writing dataset " + name(); });
}

template <class T>
void Dataset::write_block(const Dims& offset, const Dims& count, std::span<const T> data) const {
  quiet();
  const Handle file_space(
      check(H5Dget_space(id()), [&] { return "H5Dget_space of dataset " + name(); }), H5Sclose);
  check(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, offset.data(), nullptr, count.data(),
                            nullptr),
        [&] { return "selecting a block of " + name(); });
  const Handle memory_space = simple_space(count);
  check_write(H5Dwrite(id(), native_type<T>(), memory_space.id(), file_space.id(), H5P_DEFAULT,
                       data.data()),
              [&] { return "writing a block of " + name(); });
}

template <class T>
std::vector<T> Dataset::read() const {
  quiet();
  std::size_t size = 1;
  for (hsize_t d : dims()) size *= d;
  std::vector<T> values(size);
  check(H5Dread(id(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
        [&] { return "reading dataset " + name(); });
  return values;
}

namespace {

// The stored type of a dataset, and what it is made of, checked.
Handle stored_type(const Dataset& dataset) {
  return Handle(
      check(H5Dget_type(dataset.id()), [&] { return "H5Dget_type of dataset " + dataset.name(); }),
      H5Tclose);
}

H5T_class_t type_class(const Handle& type, const Dataset& dataset) {
  return check(H5Tget_class(type.id()),
               [&] { return "H5Tget_class of dataset " + dataset.name(); });
}

std::size_t type_size(const Handle& type, const Dataset& dataset) {
  const std::size_t size = H5Tget_size(type.id());
  if (size == 0) fail(Access::read, [&] { return "H5Tget_size of dataset " + dataset.name(); });
  return size;
}

H5T_sign_t type_sign(const Handle& type, const Dataset& dataset) {
  return check(H5Tget_sign(type.id()), [&] { return "H5Tget_sign of dataset " + dataset.name(); });
}

}  // namespace

H5T_class_t Dataset::stored_type_class() const {
  quiet();
  return type_class(stored_type(*this), *this);
}

std::size_t Dataset::stored_type_size() const {
  quiet();
  return type_size(stored_type(*this), *this);
}

bool Dataset::same_stored_type(const Dataset& other) const {
  quiet();
  const Handle mine = stored_type(*this), theirs = stored_type(other);
  const H5T_class_t mine_class = type_class(mine, *this);
  if (mine_class != type_class(theirs, other) || type_size(mine, *this) != type_size(theirs, other))
    return false;
  return mine_class != H5T_INTEGER || type_sign(mine, *this) == type_sign(theirs, other);
}

bool Dataset::has_stored_values() const {
  quiet();
  H5D_space_status_t status;
  check(H5Dget_space_status(id(), &status),
        [&] { return "H5Dget_space_status of dataset " + name(); });
  return status == H5D_SPACE_STATUS_ALLOCATED;
}

bool Dataset::is_scale() const {
  quiet();
  return check(H5DSis_scale(id()),
               [&] { return "checking whether dataset " + name() + " is a scale"; }) > 0;
}

void Dataset::make_scale(const std::string& name) const {
  quiet();
  check_write(H5DSset_scale(id(), name.c_str()), [&] { return "H5DSset_scale " + name; });
}

void Dataset::attach_to(const Dataset& target, unsigned dim) const {
  quiet();
  check_write(H5DSattach_scale(target.id(), id(), dim), [&] {
    return "H5DSattach_scale " + name() + " to dimension " + std::to_string(dim) + " of " +
           target.name();
  });
}

std::vector<std::string> Dataset::scale_names() const {
  quiet();
  std::vector<std::string> names;
  const auto rank = dims().size();
  for (unsigned dim = 0; dim < rank; ++dim) {
    std::string found;
    check(H5DSiterate_scales(
              id(), dim, nullptr,
              [](hid_t, unsigned, hid_t scale, void* out) -> herr_t {
                char buffer[256] = {0};
                if (H5DSget_scale_name(scale, buffer, sizeof buffer) < 0) return -1;
                *static_cast<std::string*>(out) = buffer;
                return 1;
              },
              &found),
          [&] {
            return "reading the scales of dimension " + std::to_string(dim) + " of dataset " +
                   name();
          });
    names.push_back(found);
  }
  return names;
}

// ---- groups --------------------------------------------------------------------------------

Group Group::create_group(const std::string& name) const {
  quiet();
  return Group(
      Handle(check_write(H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                         [&] { return "creating group " + name; }),
             H5Gclose));
}

Group Group::open_group(const std::string& name) const {
  quiet();
  return Group(Handle(
      check(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), [&] { return "opening group " + name; }),
      H5Gclose));
}

bool Group::has_link(const std::string& name) const {
  quiet();
  return check(H5Lexists(id(), name.c_str(), H5P_DEFAULT),
               [&] { return "checking link " + name + " of " + path_of(id()); }) > 0;
}

// A missing member is no group; a member whose object cannot be read is a failure.
bool Group::is_group(const std::string& name) const {
  quiet();
  if (!has_link(name)) return false;
  H5O_info_t info;
  check(H5Oget_info_by_name2(id(), name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT),
        [&] { return "reading the kind of " + name + " in " + path_of(id()); });
  return info.type == H5O_TYPE_GROUP;
}

std::vector<std::string> Group::link_names() const {
  quiet();
  std::vector<std::string> names;
  check(H5Literate(
            id(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
            [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
              static_cast<std::vector<std::string>*>(out)->push_back(name);
              return 0;
            },
            &names),
        [&] { return "listing the links of " + path_of(id()); });
  return names;
}

namespace {

// A layout built in memory only to be compared with a file (File::create_in_memory) allocates
// no chunks: its size is that of the metadata, whatever the sweep's.
bool is_in_memory(hid_t object) {
  const Handle file(check(H5Iget_file_id(object), "H5Iget_file_id"), H5Fclose);
  const Handle access(check(H5Fget_access_plist(file.id()), "H5Fget_access_plist"), H5Pclose);
  return check(H5Pget_driver(access.id()), "H5Pget_driver") == H5FD_CORE;
}

}  // namespace

template <class T>
Dataset Group::create_dataset(const std::string& name, const Dims& dims,
                              const DatasetOptions& options) const {
  quiet();
  const Handle space = simple_space(dims);
  const Handle properties(check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"), H5Pclose);
  if (!options.chunk.empty()) {
    check(
        H5Pset_chunk(properties.id(), static_cast<int>(options.chunk.size()), options.chunk.data()),
        "H5Pset_chunk");
    if (options.deflate_level > 0) {
      check(H5Pset_shuffle(properties.id()), "H5Pset_shuffle");
      check(H5Pset_deflate(properties.id(), static_cast<unsigned>(options.deflate_level)),
            "H5Pset_deflate");
    } else if (!is_in_memory(id())) {
      // Every chunk allocated now: later writes change raw data in place, never metadata.
      check(H5Pset_alloc_time(properties.id(), H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time");
    }
  }
  if (options.has_fill) {
    const T fill = static_cast<T>(options.fill_double);
    check(H5Pset_fill_value(properties.id(), native_type<T>(), &fill), "H5Pset_fill_value");
    check(H5Pset_fill_time(properties.id(), H5D_FILL_TIME_ALLOC), "H5Pset_fill_time");
  }
  return Dataset(Handle(check_write(H5Dcreate2(id(), name.c_str(), native_type<T>(), space.id(),
                                               H5P_DEFAULT, properties.id(), H5P_DEFAULT),
                                    [&] { return "creating dataset " + name; }),
                        H5Dclose),
                 name.substr(name.rfind('/') + 1));
}

void Group::remove(const std::string& name) const {
  quiet();
  check_write(H5Ldelete(id(), name.c_str(), H5P_DEFAULT), [&] { return "removing " + name; });
}

Dataset Group::open_dataset(const std::string& name) const {
  quiet();
  return Dataset(Handle(check(H5Dopen2(id(), name.c_str(), H5P_DEFAULT),
                              [&] { return "opening dataset " + name; }),
                        H5Dclose),
                 name.substr(name.rfind('/') + 1));
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
  check(H5Pset_cache(access.id(), 0, 0, 0, 0.75), "H5Pset_cache");
  return access;
}

}  // namespace

File File::create(const std::string& path) {
  quiet();
  File file;
  file.handle_ =
      Handle(check_write(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, write_through().id()),
                         [&] { return "creating " + path; }),
             H5Fclose);
  file.path_ = path;
  return file;
}

File File::create_in_memory() {
  quiet();
  // HDF5 refuses two open files of one name, so every in-memory file gets its own.
  static std::atomic<long> counter{0};
  const std::string name = "cdl-in-memory-" + std::to_string(counter.fetch_add(1));
  const Handle access(check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"), H5Pclose);
  check(H5Pset_fapl_core(access.id(), 1 << 16, false), "H5Pset_fapl_core");
  File file;
  file.handle_ =
      Handle(check_write(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.id()),
                         [&] { return "creating " + name; }),
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
  quiet();
  require_regular_file(path);
  const Handle access(check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"), H5Pclose);
  if (reading_without_locks)
    check(H5Pset_file_locking(access.id(), false, true), "H5Pset_file_locking");
  File file;
  file.handle_ = Handle(
      check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.id()), [&] { return "opening " + path; }),
      H5Fclose);
  file.path_ = path;
  return file;
}

File File::open_read_write(const std::string& path) {
  quiet();
  require_regular_file(path);
  File file;
  file.handle_ = Handle(check(H5Fopen(path.c_str(), H5F_ACC_RDWR, write_through().id()),
                              [&] { return "opening " + path; }),
                        H5Fclose);
  file.path_ = path;
  return file;
}

Group File::root() const {
  quiet();
  return Group(Handle(check(H5Gopen2(handle_.id(), "/", H5P_DEFAULT), "opening /"), H5Gclose));
}

bool write_failed() { return any_write_failed.load(); }

void File::check_metadata() const {
  quiet();
  const auto visit = [](hid_t, const char*, const H5O_info_t*, void*) -> herr_t { return 0; };
  // A failed read, in words of its own: the file is damaged.
  const auto damaged = [](const std::string& what) {
    const std::string cause = library_account().text();
    throw Error("HDF5: " + what + (cause.empty() ? "" : ": " + cause), cause);
  };
  if (H5Ovisit2(handle_.id(), H5_INDEX_NAME, H5_ITER_NATIVE, visit, nullptr, H5O_INFO_ALL) < 0)
    damaged("the metadata of " + path_ + " is damaged");
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
  if (H5Lvisit(handle_.id(), H5_INDEX_NAME, H5_ITER_NATIVE, refuse_links, &link) < 0)
    damaged("the links of " + path_ + " are damaged");
  if (!link.empty()) throw RuntimeError(link + " (a cdl file holds no links)");
}

void File::flush() const {
  quiet();
  errno = 0;
  if (H5Fflush(handle_.id(), H5F_SCOPE_GLOBAL) < 0) {
    const int error = errno;
    fail(
        Access::write, [&] { return "writing " + path_; },
        error ? std::strerror(error) : std::string());
  }
}

void File::close() {
  quiet();
  if (handle_.id() < 0) return;
  flush();
  errno = 0;
  const hid_t id = handle_.id();
  if (H5Fclose(id) < 0) {
    const int error = errno;
    fail(
        Access::write, [&] { return "closing " + path_; },
        error ? std::strerror(error) : std::string());
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
