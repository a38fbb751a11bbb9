// The ContactStore conformance suite (contact_store_conformance_test.cc): the
// contract of store/contact_store.h as tests that every implementation passes,
// instantiated with the StoreSet factory of its database (see store_set.h).
#pragma once

#include "store/store_set.h"

namespace outflow {

class ContactStoreConformance : public StoreSetTest {};

}  // namespace outflow
