// File calls that Swift's Glibc module leaves out, because glibc declares
// them only with _GNU_SOURCE.
#define _GNU_SOURCE
#include "CFileCalls.h"

#include <errno.h>
#include <fcntl.h>

int pth_start_writeback(int fd, int64_t offset, int64_t count) {
#if defined(__linux__)
    return sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE) == 0 ? 0 : -errno;
#else
    (void)fd; (void)offset; (void)count;
    return -ENOSYS;
#endif
}

int pth_open_inode_handle(const char *path) {
#if defined(__linux__)
    int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
#else
    (void)path;
    return -ENOSYS;
#endif
}
