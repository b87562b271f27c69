#include "config.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/errors.hpp"
#include "base/parse.hpp"
#include "subcommands.hpp"

namespace cdl::sim {

namespace {

// Renames `[subcommand] key` to `key`, drops other subcommands' sections and rejects the rest;
// `path` names the text in messages.
po::parsed_options config_options(std::istream& in, const std::string& path,
                                  const std::string& subcommand,
                                  const po::options_description& options) {
  po::parsed_options parsed(&options);
  try {
    parsed = po::parse_config_file(in, options, /*allow_unregistered=*/true);
  } catch (const po::error& e) {
    throw InputError("--config: file '" + path + "': " + e.what());
  }
  po::parsed_options kept(&options);
  for (po::option option : parsed.options) {
    if (option.string_key == "config")  // at top level `config` is a registered option
      throw InputError("--config: file '" + path + "' may not name further config files");
    if (option.unregistered) {
      const auto dot = option.string_key.find('.');
      const std::string section = dot == std::string::npos ? "" : option.string_key.substr(0, dot);
      const std::string key = option.string_key.substr(dot == std::string::npos ? 0 : dot + 1);
      bool other_subcommand = false;
      for (const auto& name : subcommand_names())
        other_subcommand |= (section == name && name != subcommand);
      if (other_subcommand) continue;
      if (section != subcommand || !options.find_nothrow(key, false))
        throw InputError("--config: unknown key '" + option.string_key + "' in file '" + path +
                         "'");
      if (key == "config")
        throw InputError("--config: file '" + path + "' may not name further config files");
      option.string_key = key;
      option.unregistered = false;
    }
    kept.options.push_back(option);
  }
  return kept;
}

po::parsed_options config_file_options(const std::string& path, const std::string& subcommand,
                                       const po::options_description& options) {
  // Only regular files: a directory or a device (/dev/zero) would read as empty or never end.
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error))
    throw InputError("--config: '" + path + "' is not a regular file");
  std::ifstream in(path);
  if (!in) throw InputError("--config: cannot read file '" + path + "'");
  return config_options(in, path, subcommand, options);
}

}  // namespace

po::variables_map parse_config_text(const std::string& subcommand,
                                    const po::options_description& options,
                                    const std::string& config_ini, const std::string& name) {
  po::variables_map values;
  try {
    std::istringstream in(config_ini);
    po::store(config_options(in, name, subcommand, options), values);
    po::notify(values);
  } catch (const po::error& e) {
    throw InputError(e.what());
  }
  return values;
}

po::variables_map parse_options(const std::string& subcommand,
                                const po::options_description& options,
                                const std::vector<std::string>& arguments) {
  po::variables_map values;
  try {
    // Stored first wins in program_options: command line, then files from last to first.
    po::store(po::command_line_parser(arguments).options(options).run(), values);
    if (values.count("config")) {
      const auto files = values["config"].as<std::vector<std::string>>();
      for (auto file = files.rbegin(); file != files.rend(); ++file)
        po::store(config_file_options(*file, subcommand, options), values);
    }
    po::notify(values);
  } catch (const po::error& e) {
    throw InputError(e.what());
  }
  return values;
}

std::string text(const po::variables_map& values, const std::string& name) {
  return values[name].as<std::string>();
}

namespace {

// A value the INI format reads back unchanged: no '#' (a comment), no line break, no spaces
// around it (trimmed). Anything else could not rerun from the file's configuration.
const std::string& recordable(const std::string& name, const std::string& value) {
  const bool padded = !value.empty() && (std::isspace(static_cast<unsigned char>(value.front())) ||
                                         std::isspace(static_cast<unsigned char>(value.back())));
  if (padded || value.find_first_of("#\n\r") != std::string::npos)
    base::reject(name, value,
                 "a value with '#', a line break or surrounding spaces cannot be recorded in the "
                 "file's configuration");
  return value;
}

}  // namespace

std::string resolved_ini(const std::string& subcommand, const po::variables_map& values,
                         const std::vector<std::string>& names,
                         const std::map<std::string, std::string>& canonical) {
  std::ostringstream ini;
  ini << "[" << subcommand << "]\n";
  for (const auto& name : names) {
    const auto& value = values[name].value();
    if (const auto found = canonical.find(name); found != canonical.end())
      ini << name << " = " << recordable(name, found->second) << "\n";
    else if (const auto* s = boost::any_cast<std::string>(&value))
      ini << name << " = " << recordable(name, *s) << "\n";
    else if (const auto* b = boost::any_cast<bool>(&value))
      ini << name << " = " << (*b ? "true" : "false") << "\n";
  }
  return ini.str();
}

}  // namespace cdl::sim
