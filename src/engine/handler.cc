#include "engine/handler.h"

#include <stdexcept>

namespace outflow {

void HandlerRegistry::Register(std::string kind, std::shared_ptr<JobHandler> handler) {
  Status st = ValidateKind(kind, "kind");
  if (!st.ok()) throw std::logic_error("HandlerRegistry::Register: " + st.message());
  if (!handlers_.emplace(std::move(kind), std::move(handler)).second) {
    throw std::logic_error("HandlerRegistry::Register: kind registered twice");
  }
}

JobHandler* HandlerRegistry::Find(std::string_view kind) const {
  auto it = handlers_.find(kind);
  return it == handlers_.end() ? nullptr : it->second.get();
}

std::vector<std::string> HandlerRegistry::Kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [k, h] : handlers_) kinds.push_back(k);
  return kinds;
}

}  // namespace outflow
