#ifndef CZSTD_SHIM_H
#define CZSTD_SHIM_H
// zstd frames, for the streams of distributed checkpoints saved with torch's ZStandard extension.
#include <zstd.h>
#endif
