// Typed exceptions of the engine; only sim/ turns them into messages and exit codes.
#pragma once

#include <stdexcept>
#include <string>

namespace cdl {

// The user's input is invalid (exit code 2). The message is one line naming the option and
// the offending value.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The run was asked to stop (SIGINT, SIGTERM) before it finished (exit code 3).
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Anything else that went wrong while running (exit code 1).
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cdl
