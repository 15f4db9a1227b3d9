#ifndef MIGRATE_CHIREDIS_SHIM_H
#define MIGRATE_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#endif
