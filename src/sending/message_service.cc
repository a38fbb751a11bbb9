#include "sending/message_service.h"

#include <set>

#include "sending/render.h"

namespace outflow {

namespace {

Status ValidateKey(const std::string& key, const std::string& field) {
  if (key.size() > kMaxClientKeyBytes) {
    return Status::InvalidArgument(field + ": at most " + std::to_string(kMaxClientKeyBytes) + " bytes");
  }
  for (unsigned char ch : key) {
    if (ch < 0x21 || ch > 0x7e) return Status::InvalidArgument(field + ": printable ASCII without spaces only");
  }
  return Status::Ok();
}

}  // namespace

MessageService::MessageService(OutboxStore& outbox, CampaignStore& accounts, ContactStore& contacts, Sender* sender,
                               Clock& clock)
    : outbox_(outbox), group_(outbox), accounts_(accounts), contacts_(contacts), sender_(sender), clock_(clock) {}

Result<ContactId> MessageService::ResolveContact(const SendRequest& r, const std::string& prefix) {
  const int given = r.contact_id.has_value() + r.email.has_value() + r.phone.has_value();
  if (given != 1) {
    return Status::InvalidArgument(prefix + "contact_id: give exactly one of contact_id, email and phone");
  }
  if (r.contact_id) return *r.contact_id;  // checked with the other references
  ContactFilter f;
  f.limit = 1;
  std::string field = prefix + (r.email ? "email" : "phone");
  if (r.email) {
    std::string email = *r.email;
    OUTFLOW_RETURN_IF_ERROR(NormalizeAndValidateEmail(email, field));
    f.email = email;
  } else {
    std::string phone = *r.phone;
    OUTFLOW_RETURN_IF_ERROR(NormalizeAndValidatePhone(phone, field));
    f.phone = phone;
  }
  OUTFLOW_ASSIGN_OR_RETURN(ContactPage page, contacts_.List(f));
  if (page.contacts.empty()) {
    return Status::NotFound(field + ": no contact has " + (r.email ? "email " + *f.email : "phone " + *f.phone));
  }
  return page.contacts.front().id;
}

Status MessageService::CheckReferences(const SendRequest& r, const std::string& prefix, References& seen) {
  auto account = seen.accounts.find(r.account);
  if (account == seen.accounts.end()) {
    Result<SendingAccount> a = accounts_.GetAccount(r.account);
    if (!a.ok() && a.status().code() != Code::kNotFound) return a.status();
    account = seen.accounts.emplace(r.account, a.ok() ? std::optional(a->channel) : std::nullopt).first;
  }
  if (!account->second) {
    return Status::NotFound(prefix + "account_id: account " + std::to_string(r.account.value()) + " does not exist");
  }
  auto tpl = seen.templates.find(r.template_id);
  if (tpl == seen.templates.end()) {
    Result<MessageTemplateRecord> t = accounts_.GetTemplate(r.template_id);
    if (!t.ok() && t.status().code() != Code::kNotFound) return t.status();
    tpl = seen.templates.emplace(r.template_id, t.ok() ? std::optional(t->subject.empty()) : std::nullopt).first;
  }
  if (!tpl->second) {
    return Status::NotFound(prefix + "template_id: template " + std::to_string(r.template_id.value()) +
                            " does not exist");
  }
  if (*account->second == Channel::kEmail && *tpl->second) {
    return Status::InvalidArgument(prefix + "template_id: template " + std::to_string(r.template_id.value()) +
                                   " has no subject, and account " + std::to_string(r.account.value()) +
                                   " sends email");
  }
  if (r.contact_id) {
    Result<Contact> c = contacts_.Get(*r.contact_id);
    if (!c.ok() && c.status().code() == Code::kNotFound) {
      return Status::NotFound(prefix + "contact_id: contact " + std::to_string(r.contact_id->value()) +
                              " does not exist");
    }
    OUTFLOW_RETURN_IF_ERROR(c.status());
  }
  return Status::Ok();
}

Result<NewMessage> MessageService::Prepare(const SendRequest& r, const std::string& prefix, Timestamp now) {
  if (!r.variables_json.empty()) OUTFLOW_RETURN_IF_ERROR(ValidateVariables(r.variables_json, prefix + "variables"));
  OUTFLOW_RETURN_IF_ERROR(ValidateKey(r.idempotency_key, prefix + "idempotency_key"));
  if (r.send_at && *r.send_at > now + kMaxSendAhead) {
    return Status::InvalidArgument(prefix + "send_at: " + FormatRfc3339(*r.send_at) + " is more than 366 days ahead");
  }
  const int max_attempts = r.max_attempts.value_or(5);
  if (max_attempts < 1 || max_attempts > kMaxMessageAttempts) {
    return Status::InvalidArgument(prefix + "max_attempts: must be between 1 and " +
                                   std::to_string(kMaxMessageAttempts));
  }
  OUTFLOW_ASSIGN_OR_RETURN(ContactId contact, ResolveContact(r, prefix));
  NewMessage m;
  m.account = r.account;
  m.contact = contact;
  m.template_id = r.template_id;
  m.variables_json = r.variables_json;
  m.source = {SourceKind::kTransactional, r.account.value()};
  m.send_at = r.send_at ? std::max(*r.send_at, now) : now;
  m.max_attempts = max_attempts;
  m.client_key = r.idempotency_key;
  return m;
}

Result<EnqueuedMessage> MessageService::Send(const SendRequest& r) {
  const Timestamp now = clock_.Now();
  OUTFLOW_ASSIGN_OR_RETURN(NewMessage m, Prepare(r, "", now));
  // The store checks the account, template and contact in its transaction (one
  // read each instead of two), shared with the sends that arrive meanwhile.
  OUTFLOW_ASSIGN_OR_RETURN(EnqueuedMessage made, group_.Enqueue(m, now));
  if (sender_ != nullptr && !made.existing) sender_->Wake(r.account);
  return made;
}

Result<std::vector<Result<EnqueuedMessage>>> MessageService::SendBatch(std::span<const SendRequest> requests) {
  if (requests.empty() || requests.size() > kMaxSendBatch) {
    return Status::InvalidArgument("messages: must hold 1 to " + std::to_string(kMaxSendBatch) + " items");
  }
  const Timestamp now = clock_.Now();
  std::vector<Result<EnqueuedMessage>> out;
  std::vector<NewMessage> valid;
  std::vector<size_t> index_of;
  References seen;  // each account and template read once per batch
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::string prefix = "messages[" + std::to_string(i) + "].";
    // Checked before the one transaction, so that an unknown reference fails its item, not the batch.
    Result<NewMessage> m = Prepare(requests[i], prefix, now);
    if (m.ok()) {
      if (Status st = CheckReferences(requests[i], prefix, seen); !st.ok()) m = st;
    }
    out.emplace_back(m.ok() ? Status::Internal("not stored") : m.status());
    if (!m.ok()) continue;
    valid.push_back(std::move(m).value());
    index_of.push_back(i);
  }
  if (valid.empty()) return out;
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<EnqueuedMessage> made, outbox_.Enqueue(valid, now));
  std::set<AccountId> woken;
  for (size_t k = 0; k < made.size(); ++k) {
    if (!made[k].existing) woken.insert(made[k].message.account);
    out[index_of[k]] = std::move(made[k]);
  }
  if (sender_ != nullptr) {
    for (AccountId a : woken) sender_->Wake(a);
  }
  return out;
}

}  // namespace outflow
