#ifndef MIGRATE_CLIBPQ_SHIM_H
#define MIGRATE_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
