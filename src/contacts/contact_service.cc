#include "contacts/contact_service.h"

namespace outflow {

Result<ContactService::Defs> ContactService::Definitions() {
  // Loaded under the lock, so that a load cannot overwrite the reset done by a
  // concurrent DefineField with a list from before it.
  std::lock_guard g(mu_);
  if (defs_) return *defs_;
  OUTFLOW_ASSIGN_OR_RETURN(auto list, store_.ListFields());
  Defs d;
  for (auto& f : list) d.emplace(f.name, f);
  defs_ = d;
  return d;
}

Result<FieldDefinition> ContactService::DefineField(FieldDefinition def) {
  OUTFLOW_RETURN_IF_ERROR(ValidateFieldName(def.name, "name"));
  if (def.label.size() > kMaxNameBytes) return Status::InvalidArgument("label: longer than 255 bytes");
  Result<FieldDefinition> r = store_.DefineField(def, clock_.Now());
  std::lock_guard g(mu_);
  defs_.reset();
  return r;
}

Result<std::vector<FieldDefinition>> ContactService::ListFields() { return store_.ListFields(); }

Status ContactService::Coerce(Contact& c, const Defs& defs, std::string_view prefix) {
  for (auto& [name, value] : c.custom) {
    auto it = defs.find(name);
    auto* text = std::get_if<std::string>(&value);
    if (it == defs.end() || text == nullptr || it->second.type == FieldType::kText) continue;
    std::string field = (prefix.empty() ? "" : std::string(prefix) + ".") + "custom." + name;
    OUTFLOW_ASSIGN_OR_RETURN(value, ParseFieldValue(it->second, *text, field));
  }
  return Status::Ok();
}

Status ContactService::Validate(Contact& c, std::string_view prefix) {
  OUTFLOW_ASSIGN_OR_RETURN(Defs defs, Definitions());
  return ValidateWith(c, defs, prefix);
}

Status ContactService::ValidateWith(Contact& c, const Defs& defs, std::string_view prefix) {
  OUTFLOW_RETURN_IF_ERROR(Coerce(c, defs, prefix));
  return NormalizeAndValidateContact(c, defs, prefix);
}

Result<Contact> ContactService::Create(Contact c) {
  OUTFLOW_RETURN_IF_ERROR(Validate(c, ""));
  return store_.Create(c, clock_.Now());
}

Result<Contact> ContactService::Update(ContactId id, const std::function<Status(Contact&)>& patch) {
  OUTFLOW_ASSIGN_OR_RETURN(Defs defs, Definitions());
  return store_.Update(
      id,
      [&](Contact& c) -> Status {
        OUTFLOW_RETURN_IF_ERROR(patch(c));
        OUTFLOW_RETURN_IF_ERROR(Coerce(c, defs, ""));
        return NormalizeAndValidateContact(c, defs, "");
      },
      clock_.Now());
}

Result<ContactPage> ContactService::List(const ContactFilter& filter) {
  if (filter.limit < 1 || filter.limit > kMaxContactListLimit) {
    return Status::InvalidArgument("limit: must be between 1 and " + std::to_string(kMaxContactListLimit));
  }
  return store_.List(filter);
}

Result<std::vector<UpsertOutcome>> ContactService::Upsert(std::vector<Contact> contacts, ExistingPolicy policy,
                                                          std::string_view batch_name) {
  if (contacts.empty()) return Status::InvalidArgument(std::string(batch_name) + ": the batch is empty");
  if (contacts.size() > kMaxUpsertBatch) {
    return Status::InvalidArgument(std::string(batch_name) + ": " + std::to_string(contacts.size()) +
                                   " contacts, over the limit of " + std::to_string(kMaxUpsertBatch));
  }
  OUTFLOW_ASSIGN_OR_RETURN(Defs defs, Definitions());
  std::vector<UpsertOutcome> out(contacts.size());
  std::vector<Contact> valid;
  std::vector<size_t> where;
  valid.reserve(contacts.size());
  for (size_t i = 0; i < contacts.size(); ++i) {
    std::string prefix = batch_name.empty() ? "" : std::string(batch_name) + "[" + std::to_string(i) + "]";
    Status st = Coerce(contacts[i], defs, prefix);
    if (st.ok()) st = NormalizeAndValidateContact(contacts[i], defs, prefix);
    if (!st.ok()) {
      out[i] = {UpsertOutcome::Kind::kFailed, ContactId(), st.message()};
      continue;
    }
    valid.push_back(std::move(contacts[i]));
    where.push_back(i);
  }
  if (!valid.empty()) {
    OUTFLOW_ASSIGN_OR_RETURN(auto applied, store_.UpsertBatch(valid, policy, clock_.Now()));
    for (size_t k = 0; k < applied.size(); ++k) out[where[k]] = std::move(applied[k]);
  }
  return out;
}

}  // namespace outflow
