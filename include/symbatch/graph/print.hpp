/// @file print.hpp
/// @brief `print(variable)`: a readable indented tree of a graph (like PyTensor's `dprint`).
#pragma once

#include <ostream>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "symbatch/graph/walk.hpp"

namespace symbatch {

namespace detail {

inline std::string node_line(const Variable& variable, const std::string& id) {
  std::string line;
  if (variable.owner()) {
    line = variable.owner()->op().describe();
    if (variable.owner()->num_outputs() > 1) line += "." + std::to_string(variable.index());
  } else {
    switch (variable.kind()) {
      case VariableKind::constant: line = variable.constant_value().size() == 1 && variable.dtype() != DType::rng
                                              ? "constant{" + format_number(variable.constant_value().flat<double>(0)) + "}"
                                              : "constant";
        break;
      case VariableKind::shared: line = "shared"; break;
      default: line = "input"; break;
    }
  }
  line += " [id " + id + "]";
  if (!variable.name().empty()) line += " '" + variable.name() + "'";
  return line + " " + variable.type().str();
}

inline std::string make_id(std::size_t number) {
  std::string id;
  do {
    id.insert(id.begin(), static_cast<char>('A' + number % 26));
    number /= 26;
  } while (number-- > 0);
  return id;
}

}  // namespace detail

/// @brief Writes a tree of the graph computing `outputs`, one node per line, children indented
/// below their parent. Each apply gets an id; a subgraph already shown is printed once and
/// referred to by its id afterwards. Example:
/// @code
/// add [id A] f64(?,)
///  |- input [id B] 'x' f64(?,)
///  |- exp [id C] f64(?,)
///      |- input [id B] 'x' f64(?,)
/// @endcode
/// Throws `std::invalid_argument` when an output is a null variable, before writing anything.
inline void print(std::span<const Variable> outputs, std::ostream& out) {
  for (std::size_t i = 0; i < outputs.size(); ++i)
    if (!outputs[i]) throw_invalid("print", "output ", i + 1, "/", outputs.size(), " is a null variable");
  std::unordered_map<const void*, std::string> ids;
  std::unordered_set<const void*> expanded;
  auto id_of = [&](const Variable& variable) {
    const void* key = variable.owner() ? static_cast<const void*>(variable.owner()) : variable.get();
    auto found = ids.find(key);
    if (found != ids.end()) return found->second;
    return ids[key] = detail::make_id(ids.size());
  };
  struct Item {
    Variable variable;
    std::string prefix;
  };
  for (const Variable& output : outputs) {
    std::vector<Item> stack{{output, ""}};
    while (!stack.empty()) {
      Item item = std::move(stack.back());
      stack.pop_back();
      out << item.prefix << detail::node_line(item.variable, id_of(item.variable)) << '\n';
      ApplyNode* owner = item.variable.owner();
      if (!owner || !expanded.insert(owner).second) continue;
      const std::string child_prefix = item.prefix.empty() ? " |- " : std::string(item.prefix.size(), ' ') + " |- ";
      for (auto input = owner->inputs().rbegin(); input != owner->inputs().rend(); ++input)
        stack.push_back({*input, child_prefix});
    }
  }
}

/// @brief `print` into a string.
inline std::string print(const Variable& output) {
  std::ostringstream out;
  print(std::span<const Variable>(&output, 1), out);
  return out.str();
}

}  // namespace symbatch
