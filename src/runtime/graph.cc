#include "runtime/graph.h"

#include <set>

namespace iris::runtime {

namespace {

template <typename T>
const T* find_attr(const Node& n, std::string_view key) {
  const auto it = n.attrs.find(key);
  return it == n.attrs.end() ? nullptr : std::get_if<T>(&it->second);
}

}  // namespace

int64_t Node::attr_int(std::string_view key, int64_t fallback) const {
  const int64_t* v = find_attr<int64_t>(*this, key);
  return v ? *v : fallback;
}

float Node::attr_float(std::string_view key, float fallback) const {
  if (const float* v = find_attr<float>(*this, key)) return *v;
  if (const int64_t* v = find_attr<int64_t>(*this, key)) return static_cast<float>(*v);
  return fallback;
}

std::string Node::attr_string(std::string_view key, const std::string& fallback) const {
  const std::string* v = find_attr<std::string>(*this, key);
  return v ? *v : fallback;
}

std::vector<int64_t> Node::attr_ints(std::string_view key, std::vector<int64_t> fallback) const {
  const auto* v = find_attr<std::vector<int64_t>>(*this, key);
  return v ? *v : fallback;
}

const HostTensor* Node::attr_tensor(std::string_view key) const {
  return find_attr<HostTensor>(*this, key);
}

int Graph::add_value(Value v) {
  values.push_back(std::move(v));
  return static_cast<int>(values.size()) - 1;
}

int Graph::add_constant(HostTensor t, const std::string& hint) {
  Value v;
  v.name = hint + "#" + std::to_string(values.size());
  v.dtype = t.dtype;
  v.shape = t.shape;
  v.constant = std::make_shared<const HostTensor>(std::move(t));
  return add_value(std::move(v));
}

const std::string& Graph::layer_name(const Node& n) const {
  return n.name.empty() && !n.outputs.empty() ? values[n.outputs[0]].name : n.name;
}

std::string Graph::describe(const Node& n) const {
  std::string who;
  if (!n.name.empty()) {
    who = "node '" + n.name + "'";
  } else if (!n.outputs.empty() && n.outputs[0] >= 0) {
    who = "node producing '" + values[n.outputs[0]].name + "'";
  } else {
    who = "unnamed node";
  }
  return label + ": " + who + " (" + n.op + ")";
}

std::vector<std::string> Graph::op_types() const {
  std::set<std::string> ops;
  for (const Node& n : nodes) ops.insert(n.op);
  return {ops.begin(), ops.end()};
}

}  // namespace iris::runtime
