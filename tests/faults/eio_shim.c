/*
 * eio_shim.c - I/O errors on the store's data file, for tests.
 *
 * Loaded with LD_PRELOAD into sipas-worker. While the file named by
 * $SIPAS_FAULT_EIO exists, calls on a descriptor of a file named data.mdb
 * fail with EIO, as a failing disk makes them fail, according to the words
 * the control file holds:
 *   write  every write of a data page (offset past the two meta pages)
 *   meta   every write of a meta page (the commit point of LMDB: a failure
 *          there sets MDB_FATAL_ERROR and later transactions get MDB_PANIC)
 *   sync   fsync and fdatasync
 * A failed call writes nothing. Every other call, and every call while the
 * control file is absent, goes to libc unchanged. Each injected error
 * appends one line ("write", "meta" or "sync") to $SIPAS_FAULT_EIO.log so
 * a test can tell that its faults were hit.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

enum { F_WRITE = 1, F_META = 2, F_SYNC = 4 };

/* Resolve the next definition of `name` (libc's). The pointer is copied
 * through memcpy: ISO C has no cast from void * to a function pointer. */
static void next_fn(const char *name, void *fnp, size_t size)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == NULL)
		abort();
	memcpy(fnp, &p, size);
}

#define REAL(name) \
	static __typeof__(name) *real_##name; \
	if (real_##name == NULL) \
		next_fn(#name, &real_##name, sizeof real_##name)

/* The fault words in the control file, 0 when it is absent. Read with raw
 * system calls so that nothing here re-enters the wrappers below. */
static int faults_now(void)
{
	const char *ctl = getenv("SIPAS_FAULT_EIO");
	char buf[64];
	long n;
	int fd, f = 0;

	if (ctl == NULL || *ctl == '\0')
		return 0;
	fd = (int)syscall(SYS_openat, AT_FDCWD, ctl, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = syscall(SYS_read, fd, buf, sizeof buf - 1);
	syscall(SYS_close, fd);
	buf[n > 0 ? n : 0] = '\0';
	if (strstr(buf, "write") != NULL)
		f |= F_WRITE;
	if (strstr(buf, "meta") != NULL)
		f |= F_META;
	if (strstr(buf, "sync") != NULL)
		f |= F_SYNC;
	return f;
}

/* True when fd names a file called data.mdb. */
static bool is_data_file(int fd)
{
	char link[64], path[4096];
	long n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = syscall(SYS_readlinkat, AT_FDCWD, link, path, sizeof path - 1);
	if (n < 9)
		return false;
	path[n] = '\0';
	return strcmp(path + n - 9, "/data.mdb") == 0;
}

/* Record one injected fault and fail the call with EIO. */
static int inject(const char *what)
{
	const char *ctl = getenv("SIPAS_FAULT_EIO");
	char path[4096], line[16];
	int fd, len;

	snprintf(path, sizeof path, "%s.log", ctl);
	fd = (int)syscall(SYS_openat, AT_FDCWD, path,
			  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		len = snprintf(line, sizeof line, "%s\n", what);
		if (syscall(SYS_write, fd, line, (size_t)len) < 0)
			(void)0;  /* the count is a hint for the test only */
		syscall(SYS_close, fd);
	}
	errno = EIO;
	return -1;
}

/* Whether a write at `off` on fd must fail now: 0 or the fault name. */
static const char *write_fault(int fd, off_t off)
{
	int f = faults_now();
	off_t meta_end = 2 * (off_t)sysconf(_SC_PAGESIZE);

	if (f == 0 || !is_data_file(fd))
		return NULL;
	if (off < meta_end)
		return (f & F_META) ? "meta" : NULL;
	return (f & F_WRITE) ? "write" : NULL;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t off)
{
	const char *fault = write_fault(fd, off);
	REAL(pwrite);

	if (fault != NULL)
		return inject(fault);
	return real_pwrite(fd, buf, count, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t off)
{
	const char *fault = write_fault(fd, off);
	REAL(pwrite64);

	if (fault != NULL)
		return inject(fault);
	return real_pwrite64(fd, buf, count, off);
}

ssize_t write(int fd, const void *buf, size_t count)
{
	const char *fault = NULL;
	REAL(write);

	/* Only a data.mdb descriptor pays for the position lookup. */
	if (faults_now() != 0 && is_data_file(fd))
		fault = write_fault(fd, lseek(fd, 0, SEEK_CUR));
	if (fault != NULL)
		return inject(fault);
	return real_write(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	const char *fault = NULL;
	REAL(writev);

	if (faults_now() != 0 && is_data_file(fd))
		fault = write_fault(fd, lseek(fd, 0, SEEK_CUR));
	if (fault != NULL)
		return inject(fault);
	return real_writev(fd, iov, iovcnt);
}

int fdatasync(int fd)
{
	REAL(fdatasync);

	if ((faults_now() & F_SYNC) && is_data_file(fd))
		return inject("sync");
	return real_fdatasync(fd);
}

int fsync(int fd)
{
	REAL(fsync);

	if ((faults_now() & F_SYNC) && is_data_file(fd))
		return inject("sync");
	return real_fsync(fd);
}
