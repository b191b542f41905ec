// Versioned schema migrations for the index, written once for both SQL dialects.
#pragma once

#include "storage/sql/connection.h"

namespace pacs {

// Applies every migration newer than the database's version, each in its own transaction, and
// returns the resulting version. Several processes may call it at once (PostgreSQL: an advisory
// lock serialises them; SQLite: the write lock does).
int migrate(sql::Connection& connection);

// The newest version this build knows.
int latest_schema_version();

}  // namespace pacs
