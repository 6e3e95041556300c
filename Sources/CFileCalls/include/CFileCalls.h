#ifndef PTH_CFILECALLS_H
#define PTH_CFILECALLS_H

#include <stdint.h>

/// Starts writing the dirty pages of `count` bytes of the file open as `fd`,
/// from `offset`, to the disk, without waiting for them (Linux's
/// `sync_file_range` with `SYNC_FILE_RANGE_WRITE`). Returns 0, or `-errno`;
/// `-ENOSYS` where the system has no such call.
int pth_start_writeback(int fd, int64_t offset, int64_t count);

/// Opens a handle on the file `path` names, without opening the file for
/// reading or writing and without following a last symbolic link (Linux's
/// `O_PATH | O_NOFOLLOW`): a handle that keeps the file's inode alive until
/// it is closed. Returns the descriptor, or `-errno`; `-ENOSYS` where the
/// system has no such flag.
int pth_open_inode_handle(const char *path);

#endif
