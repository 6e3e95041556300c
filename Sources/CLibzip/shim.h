#ifndef CLIBZIP_SHIM_H
#define CLIBZIP_SHIM_H
// libzip reads records that another tool compressed; zlib supplies CRC-32.
#include <zip.h>
#include <zlib.h>
#endif
