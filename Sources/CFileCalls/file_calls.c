// File and processor calls that Swift's Glibc module leaves out, because
// glibc declares them only with _GNU_SOURCE.
#define _GNU_SOURCE
#include "CFileCalls.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#if defined(__linux__)
#include <sched.h>
#include <sys/vfs.h>
#endif

int pth_start_writeback(int fd, int64_t offset, int64_t count) {
#if defined(__linux__)
    return sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE) == 0 ? 0 : -errno;
#else
    (void)fd; (void)offset; (void)count;
    return -ENOSYS;
#endif
}

int pth_hold_large_file(const char *path, int64_t min_bytes) {
#if defined(__linux__)
    int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    struct statfs fs;
    // NFS_SUPER_MAGIC, from linux/magic.h.
    const long nfs = 0x6969;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < min_bytes || st.st_nlink != 1
        || fstatfs(fd, &fs) != 0 || (long)fs.f_type == nfs) {
        close(fd);
        return -ECANCELED;
    }
    return fd;
#else
    (void)path; (void)min_bytes;
    return -ENOSYS;
#endif
}

int pth_usable_processor_count(void) {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int count = CPU_COUNT(&set);
        if (count > 0) return count;
    }
#endif
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}
