#ifndef PTH_CFILECALLS_H
#define PTH_CFILECALLS_H

#include <stdint.h>

/// Starts writing the dirty pages of `count` bytes of the file open as `fd`,
/// from `offset`, to the disk, without waiting for them (Linux's
/// `sync_file_range` with `SYNC_FILE_RANGE_WRITE`). Returns 0, or `-errno`;
/// `-ENOSYS` where the system has no such call.
int pth_start_writeback(int fd, int64_t offset, int64_t count);

/// Opens a handle on the file `path` names when freeing it would take a
/// while: a regular file of at least `min_bytes` with no other link, on a
/// local file system (not NFS, whose rename would keep a `.nfs` file for a
/// name still open). The handle is opened without reading or writing and
/// without following a last symbolic link (Linux's `O_PATH | O_NOFOLLOW`),
/// and keeps the file's inode alive until it is closed. Returns the
/// descriptor, `-ECANCELED` for a file not worth holding, or `-errno`;
/// `-ENOSYS` where the system has no `O_PATH`.
int pth_hold_large_file(const char *path, int64_t min_bytes);

/// The processors this thread may run on (Linux's `sched_getaffinity`, so a
/// container limited to one counts one); the online processors elsewhere.
int pth_usable_processor_count(void);

#endif
